"""`racelab step`: run a spec's interleavings against real servers, step by step."""

import click

from racelab.cli.errors import InputError, bad_input
from racelab.cli.options import block_wait_option, repeat_option


@click.command("step")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option(
    "--target",
    "targets",
    multiple=True,
    help="BACKEND:STRATEGY[@WORKERS] to run it on; give it several times for a matrix.",
)
@click.option("--ladder", is_flag=True, help="Run it on every target of the compare ladder.")
@click.option(
    "--external",
    "externals",
    multiple=True,
    metavar="NAME=COMMAND",
    help="A server of yours that pauses by the pause protocol, started from COMMAND with {port}, "
    "{data_dir}, {skus} and {stock} filled in, afresh before each permutation; with "
    "{database_url} its SQL statements are points too.",
)
@click.option(
    "--file-points",
    is_flag=True,
    help="Pause an --external server at its own file operations in {data_dir} (a FUSE mount): "
    "open, read, write, fsync, rename, truncate, unlink.",
)
@repeat_option(1, "Run each permutation N times; any disagreement is reported as flaky.")
@block_wait_option
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), help="Write the matrix as JSON."
)
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False), help="Write the matrix as an HTML page."
)
@click.option(
    "--interactive",
    is_flag=True,
    help="Be the scheduler: type a session's name to let it take its next step, q to end "
    "(keys may come from a pipe).",
)
def step_command(
    spec_path, targets, ladder, externals, file_points, repeat, block_wait, json_path, html_path,
    interactive,
):  # fmt: skip
    """Run SPEC's permutations, each on a fresh store, releasing one pause point at a time.

    Prints each permutation's steps (a step a lock made wait shows `<waiting ...>`), the
    answers and the checker's verdict; with several targets, a matrix. Exit 0 if every
    permutation held, 1 if any failed or was flaky, 2 for a bad spec.
    """
    import sys

    from loadtests.shapes import parse_duration
    from racelab.cli.errors import parsed_option
    from racelab.compare.targets import MATRICES, TargetSpecError, parse_specs
    from racelab.step.spec import StepSpecError, check_targets, load_spec

    wait = parsed_option(parse_duration, block_wait, "--block-wait")
    try:
        chosen = MATRICES["ladder"] if ladder else parse_specs(",".join(targets))
    except TargetSpecError as e:
        raise click.BadParameter(str(e), param_hint="--target") from None
    outside = external_targets(externals)
    if not chosen and not outside:
        raise click.UsageError("name a --target (or --ladder, or --external)")
    with bad_input(StepSpecError):
        spec = load_spec(spec_path)
        check_targets(spec, chosen)  # an external server's points are known once it runs
    if interactive:
        if outside:
            raise click.UsageError("--interactive takes a --target, not --external")
        raise SystemExit(interact(spec, chosen, wait))
    if file_points and not outside:
        raise click.UsageError("--file-points steps an --external server: name one")
    from racelab.step import run  # the runner and the checker: only for a spec that is good

    rows = run_all(spec, [*chosen, *outside], repeat, wait, file_points)
    show_results(spec, rows, json_path, html_path)
    sys.exit(2 if said_never_reached(rows) else run.exit_status(rows))


def external_targets(externals) -> list:
    """Return the --external targets, or exit 2 naming the malformed one."""
    from racelab.compare.external import TargetError, parse_external

    try:
        return [parse_external(text) for text in externals]
    except TargetError as e:
        raise click.BadParameter(str(e), param_hint="--external") from None


def run_all(spec, targets, repeat, wait, files=False):
    """Run the matrix; a server of the user's that does not start is one line, exit 2."""
    from racelab.compare.process import TargetFailed
    from racelab.step import run

    try:
        echo = lambda text: click.echo(text, err=True)  # noqa: E731
        return run.run_matrix(spec, targets, repeat, wait, echo, files)
    except TargetFailed as e:
        raise InputError(str(e)) from None


def said_never_reached(rows) -> bool:
    """Print a line for each step naming a point the server never reached; say if any."""
    from racelab.step.external import never_reached

    found = never_reached(rows)
    for text in found:
        click.echo(f"racelab step: {text}", err=True)
    return bool(found)


def show_results(spec, rows, json_path, html_path) -> None:
    """Print each target's permutations (and the matrix), and write the files asked for."""
    import json

    from racelab.step import run

    columns = len(rows[0]) if rows else 0
    for column in range(columns):
        click.echo("\n".join(run.table_lines(spec, rows, column)) + "\n")
    if columns > 1:
        click.echo("\n".join(run.matrix_lines(rows)))
    if json_path:
        write_file(json_path, json.dumps(run.as_json(spec, rows), indent=2))
    if html_path:
        write_file(html_path, run.matrix_html(spec, rows))


def write_file(path: str, text: str) -> None:
    """Write an output file, making its directory; a path that cannot be written exits 2."""
    from pathlib import Path

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror}") from None


def interact(spec, targets, wait: float) -> int:
    """Run one target with the user as the scheduler; return the exit status."""
    from racelab.step.interactive import run_interactive

    if len(targets) != 1:
        raise click.UsageError("--interactive takes exactly one --target")
    sessions = ", ".join(s.name for s in spec.sessions)
    click.echo(f"{spec.name} on {targets[0].name}: type {sessions} to step one, q to finish.")
    outcome = run_interactive(spec, targets[0], keys(spec), show, wait)
    return 0 if outcome.verdict == "held" else 1


def keys(spec):
    """Yield the keys typed (one a character when every session name is one character)."""
    single = all(len(s.name) == 1 for s in spec.sessions)
    for line in click.get_text_stream("stdin"):
        yield from (line.split() if not single else [c for c in line if not c.isspace()])
    yield "q"


def show(lines: list[str]) -> None:
    """Print lines for the class."""
    click.echo("\n".join(lines))

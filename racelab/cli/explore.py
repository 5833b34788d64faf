"""`racelab explore`: the interleavings of a few requests, searched for you."""

import click

from racelab.cli.errors import InputError, bad_input
from racelab.cli.options import block_wait_option
from racelab.explore.engine import DEFAULT_BUDGET


@click.command("explore")
@click.option("--target", help="BACKEND:STRATEGY[@WORKERS] to explore, e.g. json:naive@1.")
@click.option(
    "--external",
    metavar="NAME=COMMAND",
    help="A server of yours that pauses by the pause protocol, started from COMMAND with "
    "{port}, {data_dir}, {skus} and {stock} filled in, afresh before each schedule.",
)
@click.option(
    "--request",
    "requests",
    multiple=True,
    metavar="'SESSION: OP ARGS'",
    help="One request of a session: 'A: create SKU QTY', 'A: cancel ID_OR_TOKEN' (setup order "
    "N, or a create's token such as a1), 'A: leave SHIFT DOCTOR'; give it once per request.",
)
@click.option(
    "--setup",
    metavar="KEY=N,...",
    help="The fresh store of every schedule: skus, stock, orders (stored first, 1 x sku-1 "
    "each), shifts, doctors (default: skus=1,stock=1).",
)
@click.option(
    "--budget",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_BUDGET,
    show_default=True,
    help="Run every interleaving while they number at most this, else a sample this large.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--file-points",
    is_flag=True,
    help="Pause an --external server at its own file operations in {data_dir} (a FUSE mount), "
    "as racelab step --file-points does.",
)
@block_wait_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Folder for the failing schedules' spec files (default: runs/explore-TIME).",
)
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), help="Write what was found as JSON."
)
def explore_command(target, external, requests, setup, budget, seed, file_points, block_wait,
                    out_dir, json_path):  # fmt: skip
    """Learn each session's pause points by running it alone, then run its interleavings,
    each on a fresh store, and check each.

    Prints the failing schedules, fewest switches between sessions first, each written as a
    spec that `racelab step` replays. Exit 0 if every schedule run held, 1 if one failed, 2
    for bad usage or a server that cannot be explored, 3 if one was inconclusive.
    """
    from loadtests.shapes import parse_duration
    from racelab.cli.errors import parsed_option
    from racelab.explore.engine import Search
    from racelab.explore.requests import ExploreError, build_spec

    wait = parsed_option(parse_duration, block_wait, "--block-wait")
    chosen = _target(target, external)
    if file_points and not external:
        raise click.UsageError("--file-points steps an --external server: name one")
    if not requests:
        raise click.UsageError("give the sessions' requests: --request 'A: create sku-1 1'")
    with bad_input(ExploreError):
        spec = build_spec(list(requests), setup)
    found = _explore(spec, chosen, Search(budget, seed, wait, file_points))
    _show(spec, found, out_dir, json_path, _replay(target, external, file_points))


def _target(target, external):
    """Return the one target named by --target or --external, or exit 2."""
    from racelab.compare.external import TargetError, parse_external
    from racelab.compare.targets import TargetSpecError, parse_spec

    if (target is None) == (external is None):
        raise click.UsageError("name one --target or one --external")
    try:
        return parse_spec(target) if target else parse_external(external)
    except TargetSpecError as e:
        raise click.BadParameter(str(e), param_hint="--target") from None
    except TargetError as e:
        raise click.BadParameter(str(e), param_hint="--external") from None


def _replay(target, external, file_points) -> str:
    """Return the options that replay a written spec on the same server."""
    import shlex

    if target:
        return f"--target {target}"
    return ("--file-points " if file_points else "") + f"--external {shlex.quote(external)}"


def _explore(spec, target, search):
    """Run the exploration; a server that cannot be started or stepped is one line, exit 2."""
    from racelab.compare.process import TargetFailed
    from racelab.explore.engine import NothingToInterleave, explore

    try:
        return explore(spec, target, search, lambda text: click.echo(text, err=True))
    except TargetFailed as e:
        raise InputError(str(e)) from None
    except NothingToInterleave as e:
        hint = (" (no pause() call, and no SQL statement or file operation racelab was asked "
                "to step)" if target.backend == "external" else "")  # fmt: skip
        raise InputError(f"{target.name}: {e}{hint}") from None


def _show(spec, found, out_dir, json_path, replay) -> None:
    """Write the failing schedules' specs and the JSON; print the summary; exit."""
    import json
    from datetime import datetime
    from pathlib import Path

    from racelab.cli.step import write_file
    from racelab.explore import output

    folder = Path(out_dir or Path("runs") / datetime.now().strftime("explore-%Y%m%d-%H%M%S"))
    try:
        paths = output.write_specs(spec, found, folder, replay.replace("\n", " "))
    except OSError as e:
        raise InputError(f"cannot write the specs into {folder}: {e.strerror}") from None
    click.echo("\n".join(output.summary_lines(found, paths)))
    if json_path:
        write_file(json_path, json.dumps(output.as_json(found, paths), indent=2))
    raise SystemExit(output.exit_status(found))

"""`racelab compare`: the command line of the main job."""

from typing import NamedTuple

import click

from racelab.cli.options import (
    allow_remote_option,
    chosen_mix,
    max_requests_option,
    mix_option,
    retries_option,
    store_options,
    threads_option,
    timeout_option,
    workload_option,
)
from racelab.compare.settings import WORKLOAD_VUS, Settings
from racelab.compare.targets import MATRICES

DEFAULTS = Settings()  # the one source of compare's defaults; the options show them
# Three kills, each about a second of restart: 2 s of load would mostly meet a server
# that is down. Ten seconds is the load Lab 6 and the kill tally were measured with.
KILL_DURATION_S = 10.0
# One power cut and one reboot (a remount and a restart, about a second): 4 s of load sees
# writes before the cut and after the reboot.
POWER_LOSS_DURATION_S = 4.0


class RetryFault(NamedTuple):
    """What `--faults retry` sets: writes take 0-200 ms, clients resend after 100 ms."""

    retries: int = 3
    timeout: float = 0.1
    delay: tuple[float, float] = (0.0, 0.2)


RETRY_FAULT = RetryFault()


@click.command("compare")
@click.option(
    "--matrix",
    type=click.Choice(list(MATRICES)),
    default="ladder",
    show_default=True,
    help="Which targets to run (see the README).",
)
@click.option(
    "--targets",
    help="Run these instead, e.g. json:naive,sqlite:transactional@4; url:http://127.0.0.1:3000 "
    "is a server already running, and a NAME given to --external puts it in this order.",
)
@click.option(
    "--external",
    "externals",
    multiple=True,
    metavar="NAME=COMMAND",
    help="A server in any language that racelab starts, loads, checks through the API and "
    "stops; {port} and {data_dir} in COMMAND are filled in. Repeatable.",
)
@allow_remote_option
@click.option(
    "--vus",
    type=click.IntRange(1, 2000),
    help=f"Virtual users for every target (default {WORKLOAD_VUS['orders']}; "
    f"{WORKLOAD_VUS['oncall']} with --workload oncall, so that a shift's leaves meet).",
)
@click.option(
    "--duration",
    help=f"Load per target: {DEFAULTS.duration:g}s unless given, {KILL_DURATION_S:g}s with "
    f"--faults kill and {POWER_LOSS_DURATION_S:g}s with --faults power-loss (so that the load "
    "sees the restarts through).",
)
@max_requests_option
@click.option(
    "--seed", type=int, default=DEFAULTS.seed, show_default=True, help="Seed for every load."
)
@store_options(skus=DEFAULTS.skus, stock=DEFAULTS.stock, each="each fresh store")
@retries_option
@timeout_option
@workload_option
@click.option(
    "--shifts",
    type=click.IntRange(1, 10_000),
    default=DEFAULTS.shifts,
    show_default=True,
    help="On-call shifts in each fresh store.",
)
@click.option(
    "--doctors",
    type=click.IntRange(1, 100),
    default=DEFAULTS.doctors,
    show_default=True,
    help="Doctors on call for each shift in a fresh store.",
)
@mix_option("Operation weights for every load.")
@threads_option
@click.option(
    "--faults",
    type=click.Choice(["kill", "power-loss", "retry"]),
    help="kill: SIGKILL and restart each target mid-load; power-loss: keep each store on a "
    "FUSE layer that drops every write not fsynced when the target is killed, then restart it; "
    "retry: slow writes, short timeouts and clients that resend the same token.",
)
@click.option(
    "--kills",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="How many times --faults kill kills each target.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder for the report and every target's files (default runs/<time>).",
)
@click.option(
    "--repro",
    is_flag=True,
    help="For every failed target, write a step spec per anomaly example into its repro/ "
    "folder, replay each 5 times, and link them from the report.",
)
def compare_command(matrix, targets, externals, allow_remote, out, repro, **options):
    """Serve, load and check each target in turn; print a verdict table, write a report.

    Exit 0 when every target ran (whatever its verdict), 1 when one could not be run.
    """
    specs = chosen_targets(matrix, targets, externals, allow_remote)
    if options["faults"] == "power-loss":
        require_fuse()
    raise SystemExit(run_and_report(specs, settings_from(options), out, repro))


def require_fuse() -> None:
    """Refuse --faults power-loss, in one line saying what to install, where FUSE is missing."""
    from racelab.cli.errors import InputError
    from racelab.interpose.mount import fuse_problem

    problem = fuse_problem()
    if problem:
        raise InputError(f"--faults power-loss needs FUSE: {problem}")


def settings_from(options: dict):
    """Return the Settings every target gets: the options, parsed, one field each."""
    from loadtests.shapes import parse_duration
    from racelab.cli.errors import parsed_option

    if options["duration"] is None:
        duration = {"kill": KILL_DURATION_S, "power-loss": POWER_LOSS_DURATION_S}.get(
            options["faults"], DEFAULTS.duration
        )
        options = {**options, "duration": f"{duration:g}s"}
    options["mix"] = chosen_mix(options["mix"], options["workload"])
    options["vus"] = options["vus"] or WORKLOAD_VUS[options["workload"]]
    parsers = {"duration": parse_duration, "timeout": parse_duration}
    settings = Settings(**{
        name: parsed_option(parsers[name], value, f"--{name}") if name in parsers else value
        for name, value in options.items()
    })  # fmt: skip
    if settings.faults == "retry":
        # Writes take 0-200 ms; clients give up after 100 ms and resend the same token.
        settings.retries = settings.retries or RETRY_FAULT.retries
        settings.timeout = min(settings.timeout, RETRY_FAULT.timeout)
        settings.delay = RETRY_FAULT.delay
    return settings


def chosen_targets(matrix, targets, externals, allow_remote) -> list:
    """Return the targets to run: --targets (or the matrix), then any --external not named."""
    from loadtests.target import TargetError
    from racelab.compare.external import parse_external, parse_url_target
    from racelab.compare.targets import MATRICES, TargetSpecError, parse_spec

    try:
        named = {t.label: t for t in map(parse_external, externals)}
    except TargetError as e:
        raise click.BadParameter(str(e), param_hint="--external") from None
    chosen: list = []  # TargetSpecs and ExternalTargets
    for part in filter(None, (p.strip() for p in (targets or "").split(","))):
        try:
            if part in named:
                chosen.append(named[part])
            elif part.startswith("url:"):
                chosen.append(parse_url_target(part, allow_remote))
            else:
                chosen.append(parse_spec(part))
        except (TargetSpecError, TargetError) as e:
            raise click.BadParameter(str(e), param_hint="--targets") from None
    if not targets and not externals:
        chosen = list(MATRICES[matrix])
    return chosen + [t for t in named.values() if t not in chosen]


def run_and_report(specs, settings, out, repro=False) -> int:
    """Run every target, showing progress; write and print the results; return the status."""
    from datetime import datetime
    from pathlib import Path

    from loadtests.run import live_stream
    from racelab.compare.run import run_compare
    from racelab.report import write_report

    out_dir = Path(out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"))
    out_dir.mkdir(parents=True, exist_ok=True)
    report = run_compare(specs, settings, out_dir, show_progress, live_stream(False))
    if repro:
        from racelab.repro.run import reproduce_failed

        reproduce_failed(report, out_dir, lambda line: click.echo(f"repro: {line}", err=True))
    write_report(report, out_dir)
    print_results(report.targets, out_dir, report.seconds)
    return 1 if report.could_not_run else 0


def show_progress(event) -> None:
    """Print a compare's progress on stderr: a line as a target starts, its verdict as it ends."""
    from racelab.compare.run import Finished, Starting
    from racelab.report.verdicts import verdict_word, what_broke

    if isinstance(event, Starting):
        click.echo(
            f"[{event.index + 1}/{event.total}] {event.spec.name:<26} elapsed "
            f"{event.elapsed_s:4.0f}s, about {event.left_s:3.0f}s left",
            err=True,
        )
    elif isinstance(event, Finished):
        verdict = event.entry.verdict
        broke = f": {what_broke(event.entry)}" if verdict == "failed" else ""
        click.echo(f"      {verdict_word(verdict)}{broke}", err=True)
    else:
        click.echo(
            f"  {event.spec.name} could not be run: {event.reason}\n  server log:\n"
            f"{event.log_tail}",
            err=True,
        )


def print_results(entries: list, out_dir, seconds: float) -> None:
    """Print the verdict table, a sentence for each target that did not hold, the report path."""
    import sys

    from racelab.report.verdicts import explanation_lines, table_lines

    click.echo("")
    click.echo("\n".join(table_lines(entries, color=sys.stdout.isatty())))
    explanations = explanation_lines(entries)
    if explanations:
        click.echo("")
        click.echo("\n".join(f"- {line}" for line in explanations))
    click.echo(f"\nreport: {out_dir / 'report.html'}  ({seconds:.0f} s)")

"""`racelab load`: the command line of the load generator."""

import click

from loadtests.config import EVENT_LOOPS
from racelab.cli.errors import CommandError
from racelab.cli.options import (
    allow_remote_option,
    max_requests_option,
    mix_option,
    retries_option,
    timeout_option,
    workload_option,
)


@click.command("load")
@click.argument("url")
@click.option(
    "--vus",
    type=click.IntRange(1, 10_000),
    default=10,
    show_default=True,
    help="Virtual users (closed model), or the most requests in flight (open model).",
)
@click.option("--duration", help="How long to run, e.g. 30s or 2m (default 30s).")
@click.option("--stages", help="Ramp VUs like k6, e.g. 10s:20,20s:100,10s:0.")
@click.option(
    "--scenario",
    type=click.Choice(["load", "stress", "spike", "soak"]),
    help="A preset shape scaled to --vus and --duration (see docs/contract.md).",
)
@click.option("--rate", help="Open model: a constant arrival rate such as 500/s.")
@click.option(
    "--think",
    default="0",
    show_default=True,
    help="Random wait between a user's operations, e.g. 0.1-0.5s.",
)
@workload_option
@mix_option("Operation weights; ops are create, cancel, get, list, items, leave, shifts.")
@click.option(
    "--record-reads/--no-record-reads",
    default=True,
    show_default=True,
    help="Write what each read returned, which the stale-read check needs.",
)
@timeout_option
@retries_option
@click.option("--qty", default="1-3", show_default=True, help="Quantity range per order.")
@click.option("--seed", type=int, help="Seed for every choice; the same seed, the same plan.")
@max_requests_option
@click.option(
    "--history",
    "history_path",
    type=click.Path(dir_okay=False),
    help="Write the history (JSON Lines) here.",
)
@click.option("--summary-json", type=click.Path(dir_okay=False), help="Write the summary here.")
@click.option(
    "--timeline-csv", type=click.Path(dir_okay=False), help="Write one row per second here."
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    help="Pass/fail rule such as p99<150ms, errors<1%, rps>200; repeatable.",
)
@allow_remote_option
@click.option(
    "--client",
    type=click.Choice(["fast", "aiohttp"]),
    default="fast",
    show_default=True,
    help="HTTP client: fast (lean keep-alive, least CPU) or aiohttp (the reference).",
)
@click.option(
    "--loop",
    type=click.Choice(EVENT_LOOPS),
    default=EVENT_LOOPS[0],
    show_default=True,
    help="Event loop: uvloop (least CPU a request) or asyncio (Python's own, the reference).",
)
@click.option("--quiet", is_flag=True, help="No live line, no summary table.")
def load_command(history_path, summary_json, timeline_csv, thresholds, quiet, **options):
    """Put URL under bounded, seeded load and record the history of every operation.

    Exit 0 when every threshold passed, 1 when one failed, 2 on bad usage.
    """
    from loadtests.console import summary_lines
    from loadtests.limits import peak_vus, raise_open_files
    from loadtests.run import execute, live_stream
    from loadtests.runner import LoadError
    from racelab.cli.load_options import build_config, parse_thresholds

    config = build_config(**options)
    parsed = parse_thresholds(thresholds)
    if short := raise_open_files(peak_vus(config)):
        click.echo(f"racelab load: warning: {short}", err=True)
    try:
        summary, _ = execute(
            config, history_path, parsed, live_stream(quiet), summary_json, timeline_csv
        )
    except LoadError as e:
        raise CommandError(str(e)) from None  # the target, not the input: exit 1
    if not quiet:
        click.echo(f"racelab load {config.url}  seed {config.seed}")
        click.echo("\n".join(summary_lines(summary)))
    if not all(t.passed for t in summary.thresholds):
        raise SystemExit(1)

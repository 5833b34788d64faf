"""`racelab load`: the command line of the load generator, its options turned into a
LoadConfig (a bad value named, exit 2)."""

import random

import click

from loadtests.config import EVENT_LOOPS, LoadConfig
from loadtests.shapes import (
    parse_duration,
    parse_range,
    parse_rate,
    parse_stages,
    scenario_stages,
    total_duration,
)
from loadtests.target import check_target
from racelab.cli.errors import CommandError, parsed_option
from racelab.cli.options import (
    allow_remote_option,
    chosen_mix,
    max_requests_option,
    mix_option,
    retries_option,
    timeout_option,
    workload_option,
)

SOAK_DEFAULT_S = 600.0


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
    from loadtests.limits import peak_vus, raise_open_files
    from loadtests.run import execute, live_stream, summary_lines
    from loadtests.runner import LoadError

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


def build_config(*, url, vus, duration, stages, scenario, rate, allow_remote, **rest) -> LoadConfig:
    """Validate every load option (keyword arguments named as the options) into a LoadConfig."""
    if sum(x is not None for x in (stages, scenario, rate)) > 1:
        raise click.UsageError("choose one of --stages, --scenario and --rate")
    seconds, stage_list = _shape(vus, duration, stages, scenario)
    return LoadConfig(
        url=parsed_option(lambda u: check_target(u, allow_remote), url, "URL"),
        duration=seconds,
        vus=max([vus] + [t for _, t in stage_list or []]),
        stages=stage_list,
        rate=parsed_option(parse_rate, rate, "--rate") if rate else None,
        mix=chosen_mix(rest.pop("mix"), rest["workload"]),
        qty=_qty_range(rest.pop("qty")),
        think=parsed_option(lambda t: parse_range(t, parse_duration), rest.pop("think"), "--think"),
        timeout=parsed_option(parse_duration, rest.pop("timeout"), "--timeout"),
        seed=_seed(rest.pop("seed")),
        **rest,  # retries, max_requests, client: taken as given
    )


def _shape(vus, duration, stages, scenario) -> tuple[float, list | None]:
    """Return the run's length in seconds and its stages (None for a constant load)."""
    seconds = parsed_option(parse_duration, duration, "--duration") if duration else None
    stage_list = None
    if stages:
        stage_list = parsed_option(parse_stages, stages, "--stages")
    elif scenario:
        default = SOAK_DEFAULT_S if scenario == "soak" else 30.0
        stage_list = scenario_stages(scenario, vus, seconds or default)
    if stage_list:
        seconds = total_duration(stage_list)
    return seconds or 30.0, stage_list


def _seed(seed: int | None) -> int:
    """Return the seed given, or a fresh one (printed with the run, so it can be repeated)."""
    return seed if seed is not None else random.randrange(1, 2**31)


def _qty_range(text: str) -> tuple[int, int]:
    low, high = parsed_option(lambda t: parse_range(t, int), text, "--qty")
    if low < 1 or high > 100:
        raise click.BadParameter(
            f"{text!r} must lie within 1-100, the contract's qty", param_hint="--qty"
        )
    return low, high


def parse_thresholds(texts) -> list[dict]:
    """Parse every --threshold, or fail with the bad one named."""
    from loadtests.thresholds import parse_threshold  # the load's stats, which help never needs

    return [parsed_option(parse_threshold, t, "--threshold") for t in texts]

"""Turn `racelab load` options into a LoadConfig, naming any bad value (exit 2)."""

import random

import click

from loadtests.config import LoadConfig
from loadtests.plan import default_mix, parse_mix
from loadtests.shapes import (
    parse_duration,
    parse_range,
    parse_rate,
    parse_stages,
    scenario_stages,
    total_duration,
)
from loadtests.target import check_target
from loadtests.thresholds import parse_threshold
from racelab.cli.errors import parsed_option

SOAK_DEFAULT_S = 600.0


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


def chosen_mix(text: str | None, workload: str) -> dict:
    """Return --mix parsed (naming it if bad), or the workload's own mix when it is unset."""
    return parsed_option(parse_mix, text, "--mix") if text else default_mix(workload)


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
    return [parsed_option(parse_threshold, t, "--threshold") for t in texts]

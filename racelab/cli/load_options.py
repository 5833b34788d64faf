"""Turn `racelab load` options into a LoadConfig, naming any bad value (exit 2)."""

import random

import click

from loadtests.plan import MixError, parse_mix
from loadtests.runner import LoadConfig
from loadtests.shapes import (
    SCENARIOS,
    ShapeError,
    parse_duration,
    parse_range,
    parse_rate,
    parse_stages,
    scenario_stages,
    total_duration,
)
from loadtests.target import TargetError, check_target
from loadtests.thresholds import ThresholdError, parse_threshold

SOAK_DEFAULT_S = 600.0


def parsed_option(parser, text, hint):
    """Parse an option value, or fail naming it (exit 2)."""
    try:
        return parser(text)
    except (ShapeError, MixError, ThresholdError, TargetError) as e:
        raise click.BadParameter(str(e), param_hint=hint) from None


def build_config(
    url,
    vus,
    duration,
    stages,
    scenario,
    rate,
    think,
    mix,
    qty,
    timeout,
    seed,
    retries,
    max_requests,
    allow_remote,
) -> LoadConfig:
    """Validate every option and return the run's configuration."""
    if sum(x is not None for x in (stages, scenario, rate)) > 1:
        raise click.UsageError("choose one of --stages, --scenario and --rate")
    url = parsed_option(lambda u: check_target(u, allow_remote), url, "URL")
    seconds = parsed_option(parse_duration, duration, "--duration") if duration else None
    stage_list = None
    if stages:
        stage_list = parsed_option(parse_stages, stages, "--stages")
        seconds = total_duration(stage_list)
    elif scenario:
        default = SOAK_DEFAULT_S if scenario == "soak" else 30.0
        stage_list = scenario_stages(scenario, vus, seconds or default)
        seconds = total_duration(stage_list)
    if not seconds or seconds <= 0:
        seconds = seconds or 30.0
    peak = max([vus] + [t for _, t in stage_list or []])
    return LoadConfig(
        url=url,
        duration=seconds,
        vus=peak,
        stages=stage_list,
        rate=parsed_option(parse_rate, rate, "--rate") if rate else None,
        mix=parsed_option(parse_mix, mix, "--mix"),
        qty=_qty_range(qty),
        think=parsed_option(lambda t: parse_range(t, parse_duration), think, "--think"),
        timeout=parsed_option(parse_duration, timeout, "--timeout"),
        seed=seed if seed is not None else random.randrange(1, 2**31),
        retries=retries,
        max_requests=max_requests,
    )


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


SCENARIO_CHOICE = click.Choice(SCENARIOS)

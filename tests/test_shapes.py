"""Durations, ranges, stages, rates, scenarios and the seeded plan."""

import pytest

from loadtests.plan import MixError, Planner, parse_mix
from loadtests.shapes import (
    ShapeError,
    parse_duration,
    parse_range,
    parse_rate,
    parse_stages,
    scenario_stages,
    total_duration,
    vus_at,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("500ms", 0.5), ("2m", 120.0), ("1h", 3600.0), ("1.5", 1.5)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "10 parsecs", "-1s", "1d"])
def test_bad_durations_name_the_value(text):
    with pytest.raises(ShapeError, match="is not a duration"):
        parse_duration(text)


def test_ranges_share_their_unit():
    assert parse_range("0.1-0.5s", parse_duration) == (0.1, 0.5)
    assert parse_range("100ms-1s", parse_duration) == (0.1, 1.0)
    assert parse_range("1-3", int) == (1, 3)
    assert parse_range("2", int) == (2, 2)
    with pytest.raises(ShapeError):
        parse_range("3-1", int)


def test_stages_ramp_linearly_like_k6():
    stages = parse_stages("10s:20,20s:100,10s:0")
    assert stages == [(10.0, 20), (20.0, 100), (10.0, 0)]
    assert [vus_at(stages, t) for t in (0, 5, 10, 20, 30, 35, 40, 99)] == [
        0,
        10,
        20,
        60,
        100,
        50,
        0,
        0,
    ]
    assert total_duration(stages) == 40.0


def test_constant_load_starts_at_its_level():
    assert vus_at([(10.0, 7)], 0.0, start=7) == 7


@pytest.mark.parametrize("text", ["10s", "10s:", "x:5", "10s:-1"])
def test_bad_stages(text):
    with pytest.raises(ShapeError):
        parse_stages(text)


def test_rates():
    assert parse_rate("500/s") == 500.0
    assert parse_rate("120/m") == 2.0
    with pytest.raises(ShapeError):
        parse_rate("fast")


@pytest.mark.parametrize("name", ["load", "stress", "spike", "soak"])
def test_scenarios_fill_their_duration_and_end_at_zero(name):
    stages = scenario_stages(name, 10, 60.0)
    assert total_duration(stages) == pytest.approx(60.0)
    assert stages[-1][1] == 0


def test_scenario_shapes_are_what_their_names_say():
    assert max(t for _, t in scenario_stages("stress", 10, 60)) == 40
    assert max(t for _, t in scenario_stages("spike", 10, 60)) == 100
    assert max(t for _, t in scenario_stages("soak", 10, 60)) == 10


def test_mix_parses_weights_and_names_bad_parts():
    assert parse_mix("create=70,cancel=10") == {"create": 70, "cancel": 10}
    with pytest.raises(MixError, match="'delete=5'"):
        parse_mix("create=1,delete=5")
    with pytest.raises(MixError, match="weight 0"):
        parse_mix("create=0")


def test_the_same_seed_gives_the_same_steps_and_another_does_not():
    mix = parse_mix("create=70,cancel=10,get=10,list=10")

    def steps(seed, stream):
        planner = Planner(seed, stream, mix, ["sku-1", "sku-2", "sku-3"], (1, 3), (0.1, 0.5))
        return [planner.next() for _ in range(50)]

    assert steps(7, "v0") == steps(7, "v0")
    assert steps(7, "v0") != steps(8, "v0")
    assert steps(7, "v0") != steps(7, "v1")
    first = steps(7, "v0")[0]
    assert first.token == "r7-v0-1" and 1 <= first.qty <= 3 and 0.1 <= first.think <= 0.5


@pytest.mark.parametrize(
    "mix", ["create=70,cancel=10,get=10,list=10", "items=1", "create=0,get=3,list=1", "cancel=5"]
)
def test_the_planner_draws_what_randoms_public_api_draws(mix):
    """The inlined draws must give the streams random.choices/randint/uniform give: seeds replay."""
    import random

    weights, skus = parse_mix(mix), ["sku-1", "sku-2", "sku-3"]
    planner = Planner(5, "v3", weights, skus, (1, 4), (0.5, 2.0))
    rng = random.Random("5/v3")
    for n in range(1, 2001):
        step = planner.next()
        op = rng.choices(list(weights), weights=list(weights.values()))[0]
        sku, qty = skus[rng.randrange(3)], rng.randint(1, 4)
        expected = (op, sku, qty, f"r5-v3-{n}", rng.random(), rng.uniform(0.5, 2.0))
        assert (step.op, step.sku, step.qty, step.token, step.pick, step.think) == expected

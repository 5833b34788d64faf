"""Every shipped spec on one target, as the spec's [expected] table says: shared by the two
test files the matrix is split into, so that two test processes run it side by side."""

from pathlib import Path

from racelab.compare.targets import parse_spec
from racelab.step import run
from racelab.step.runner import run_many
from racelab.step.spec import load_spec

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.toml"))
TARGETS = sorted({target for path in SPECS for target in load_spec(path).expected})


def cells_on(target: str) -> tuple[dict, dict]:
    """Return (what every spec's permutations gave on target, what the specs expect)."""
    # One server for every spec's permutations on this target, its store reseeded in place
    # before each: the matrix costs one start per target.
    specs = [spec for spec in map(load_spec, SPECS) if target in spec.expected]
    runs = [(spec, permutation) for spec in specs for permutation in spec.permutations]
    outcomes = iter(run_many(parse_spec(target), runs, block_wait=1.0))
    got = {spec.name: [run.Cell(parse_spec(target), p, [next(outcomes)]).label()
                       for p in spec.permutations] for spec in specs}  # fmt: skip
    return got, {spec.name: spec.expected[target] for spec in specs}

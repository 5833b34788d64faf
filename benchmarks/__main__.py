"""`make bench`: run racelab's benchmarks (all, or the ones named) and print their tables."""

import argparse

from benchmarks import (
    capacity,
    checker_scale,
    compares,
    faults,
    generator,
    labs,
    starts,
    stepping,
    ui,
)

BENCHMARKS = {
    "generator": generator.run,
    "targets": compares.measure_targets,
    "growth": capacity.measure_growth,
    "checker": checker_scale.run,
    "compare": compares.time_ladder,
    "step": stepping.measure_cost,
    "durability": faults.time_durability,
}
# Run only when named: the soak lasts ten minutes, the kill tally half a minute a run,
# the labs tally a minute or two a run, the stepped interleavings' tally 1.5 s a run a cell,
# 10,000 virtual users 30 s a run, the postgres strategies a minute a run, the thread counts
# 40 s a run, every spec's matrix a minute or two a run, the ui's watchers 25 s a run, the ui's
# resets half a minute.
EXTRA = {
    "soak": faults.soak,
    "kills": faults.tally_kills,
    "labs": labs.run,
    "stepruns": stepping.tally_repeats,
    "stepmatrix": stepping.time_matrices,
    # Express stepped at its own file operations and SQL: about 0.5 s a run a case.
    "stepio": stepping.tally_own_io,
    # The write-skew specs' first interleaved permutation on every target: 21 cells.
    "stepskew": lambda runs: stepping.tally_repeats(
        runs, only=("write-skew", "write-skew-at-commit"), first_only=True
    ),
    "vus": capacity.hold_many_users,
    "threads": capacity.measure_threads,
    "ui": ui.measure_watchers,
    "uireset": ui.time_resets,
    # racelab compare --workload oncall, a run a compare: the ladder 25 s, postgres 30 s.
    "oncall": compares.tally_oncall,
    "oncallpg": lambda runs: compares.tally_oncall(runs, matrix="postgres"),
    # The postgres strategies alone (the targets benchmark runs them with every other).
    "postgres": lambda runs: compares.measure_targets(runs, matrix="postgres"),
    # The CPU of each command the tests start many times (RACELAB_BASELINE: beside another
    # checkout's).
    "starts": starts.measure_starts,
}


def main() -> None:
    """Parse the names and run count, then run each benchmark in turn."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run: {', '.join([*BENCHMARKS, *EXTRA])} (default: all but soak)",
    )
    parser.add_argument("--runs", type=int, default=3, help="repetitions; medians are quoted")
    args = parser.parse_args()
    known = {**BENCHMARKS, **EXTRA}
    unknown = [name for name in args.names if name not in known]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}")
    for name in args.names or BENCHMARKS:
        known[name](runs=args.runs)


main()

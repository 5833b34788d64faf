"""`make bench`: run racelab's benchmarks (all, or the ones named) and print their tables."""

import argparse

from benchmarks import (
    checker_scale,
    compare_time,
    durability,
    generator,
    growth,
    kills,
    labs,
    many_vus,
    oncall_matrix,
    soak,
    step_cost,
    step_io,
    step_matrix,
    step_repeat,
    targets,
    ui_clients,
    ui_reset,
    worker_threads,
)

BENCHMARKS = {
    "generator": generator.run,
    "targets": targets.run,
    "growth": growth.run,
    "checker": checker_scale.run,
    "compare": compare_time.run,
    "step": step_cost.run,
    "durability": durability.run,
}
# Run only when named: the soak lasts ten minutes, the kill tally half a minute a run,
# the labs tally a minute or two a run, the stepped interleavings' tally 1.5 s a run a cell,
# 10,000 virtual users 30 s a run, the postgres strategies a minute a run, the thread counts
# 40 s a run, every spec's matrix a minute or two a run, the ui's watchers 25 s a run, the ui's
# resets half a minute.
EXTRA = {
    "soak": soak.run,
    "kills": kills.run,
    "labs": labs.run,
    "stepruns": step_repeat.run,
    "stepmatrix": step_matrix.run,
    # Express stepped at its own file operations and SQL: about 0.5 s a run a case.
    "stepio": step_io.run,
    # The write-skew specs' first interleaved permutation on every target: 21 cells.
    "stepskew": lambda runs: step_repeat.run(
        runs, only=("write-skew", "write-skew-at-commit"), first_only=True
    ),
    "vus": many_vus.run,
    "threads": worker_threads.run,
    "ui": ui_clients.run,
    "uireset": ui_reset.run,
    # racelab compare --workload oncall, a run a compare: the ladder 25 s, postgres 30 s.
    "oncall": oncall_matrix.run,
    "oncallpg": lambda runs: oncall_matrix.run(runs, matrix="postgres"),
    # The postgres strategies alone (the targets benchmark runs them with every other).
    "postgres": lambda runs: targets.run(runs, matrix="postgres"),
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

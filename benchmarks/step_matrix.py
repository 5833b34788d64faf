"""Benchmark: how long stepping takes where people wait for it.

One spec (specs/last-item-oversold.toml) on every target its table names, and the whole
specs/ matrix (every spec on every target its table names), each timed as `racelab step`
runs it: one server per target, the store reseeded in place before each permutation.
"""

import time
from pathlib import Path

from benchmarks.tools import median, print_table, save
from racelab.compare.targets import parse_spec
from racelab.step.run import run_matrix
from racelab.step.spec import load_spec

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.toml"))
ONE = "last-item-oversold"


def timed_matrix(paths) -> tuple[float, int]:
    """Run each spec on every target it names; return (seconds, permutations run)."""
    started, count = time.perf_counter(), 0
    for path in paths:
        spec = load_spec(path)
        targets = [parse_spec(t) for t in spec.expected]
        run_matrix(spec, targets, repeat=1, block_wait=1.0)
        count += len(spec.permutations) * len(targets)
    return time.perf_counter() - started, count


def run(runs: int = 3) -> dict:
    """Time one spec's matrix and the whole specs/ matrix `runs` times; print and save."""
    one = [path for path in SPECS if path.stem == ONE]
    samples: dict[str, list] = {"one spec": [], "every spec": []}
    for _ in range(runs):
        samples["one spec"].append(timed_matrix(one))
        samples["every spec"].append(timed_matrix(SPECS))
    rows, results = [], {}
    for name, done in samples.items():
        seconds, count = median([s for s, _ in done]), done[0][1]
        results[name] = {"seconds": seconds, "permutations": count}
        rows.append([name, count, f"{seconds:.1f}", f"{seconds / count * 1000:.0f}"])
    print_table(
        f"Stepping: whole matrices, median of {runs}",
        ["matrix", "permutations", "seconds", "ms a permutation"],
        rows,
        f"python -m benchmarks stepmatrix --runs {runs}",
    )
    save("stepmatrix", {"runs": runs, "results": results})
    return results

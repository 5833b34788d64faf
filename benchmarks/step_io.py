"""Benchmark: servers stepped at their own I/O keep their outcome, and what a permutation costs.

The Express data.json server at its file operations (FUSE) and the Express + pg twin and
its fix at their SQL (a proxy), each interleaved permutation run `runs` times with
`racelab step --external`'s engine (a server start, and a store emptied, per run). A run
is kept when it gave the expected cell; the time is the whole run's over the runs, the
mount or the private PostgreSQL started once for all of them.
"""

import sys
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.tools import print_table, save
from racelab.compare.external import parse_external
from racelab.step.external import run_external
from racelab.step.run import Cell
from racelab.step.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
SERVER = f"{Path(sys.executable).parent / 'node'} {ROOT}/examples/express/server.js"
SEEDED = " --port {port} --skus {skus} --stock {stock}"
PG = f"{SERVER} --database-url {{database_url}}{SEEDED} --store"
# (name, spec, command, file points, the interleaved permutation's expected cell)
CASES = [
    ("express-json", "last-item-oversold", f"{SERVER} --store json --data {{data_dir}}{SEEDED}",
     True, "lost, id_collision"),
    ("express-pg", "sql-lost-update", f"{PG} pg",
     False, "stock_mismatch, oversold"),
    ("express-pg-for-update", "sql-lost-update",
     f"{PG} pg-for-update", False,
     "held (blocked)"),
]  # fmt: skip


def run(runs: int = 20) -> dict:
    """Run each case's interleaved permutation `runs` times; print and save the tally."""
    rows, results = [], {}
    for name, spec_name, command, files, expected in CASES:
        kept, seconds = _tally(name, spec_name, command, files, expected, runs)
        per_run = seconds / runs
        results[name] = {"expected": expected, "kept": kept, "runs": runs, "s_per_run": per_run}
        rows.append(
            [name, "files" if files else "sql", expected, f"{kept}/{runs}", f"{per_run:.2f}"]
        )
    print_table(
        f"Servers stepped at their own I/O, the interleaved permutation {runs} times",
        ["server", "points", "expected", "kept", "s/permutation"],
        rows,
        f"python -m benchmarks stepio --runs {runs}",
    )
    save("stepio", {"runs": runs, "cases": results})
    return results


def _tally(name, spec_name, command, files, expected, runs) -> tuple[int, float]:
    """Return how many runs gave the expected cell, and the seconds they took together."""
    spec = load_spec(ROOT / "specs" / f"{spec_name}.toml")
    permutation = spec.permutations[1]  # the interleaved one: A.x B.x A.y B.y
    one = replace(spec, permutations=[permutation])
    target = parse_external(f"{name}={command}")
    start = time.perf_counter()
    outcomes = run_external(target, [(one, permutation)] * runs, files=files)
    seconds = time.perf_counter() - start
    kept = sum(Cell(target, permutation, [o]).label() == expected for o in outcomes)
    return kept, seconds

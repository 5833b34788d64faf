"""The on-call matrix: `racelab compare --workload oncall` on a matrix, run after run.

Each run is a whole compare with its own seed; per target it tallies the verdicts and in
how many runs each on-call anomaly showed (write skew, a lost leave, a stale read), beside
the verdict the strategy claims (docs/benchmarks.md, the on-call matrix).
"""

import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.tools import print_table, save
from shapes.reports import CompareReport, read_shape

SHOWN = ("write_skew", "lost_leave", "stale_read")


def compare_once(matrix: str, seed: int, out: Path) -> CompareReport:
    """Run one on-call compare of a matrix; return its report.json."""
    subprocess.run(
        [sys.executable, "-m", "racelab", "compare", "--workload", "oncall", "--matrix", matrix,
         "--seed", str(seed), "--out", str(out)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return read_shape(out / "report.json", CompareReport)


def tally(reports: list[CompareReport]) -> dict:
    """Return per target: expected, verdict counts, and runs that showed each anomaly."""
    found: dict = {}
    for report in reports:
        for e in report.targets:
            empty = {"expected": e.expected, "verdicts": Counter(), **dict.fromkeys(SHOWN, 0)}
            row = found.setdefault(f"{e.target}@{e.workers}", empty)
            row["verdicts"][e.verdict.value] += 1
            for name in SHOWN:
                row[name] += e.anomalies.get(name, 0) > 0
    return {name: {**row, "verdicts": dict(row["verdicts"])} for name, row in found.items()}


def run(runs: int = 20, matrix: str = "ladder") -> dict:
    """Run the on-call compare `runs` times on a matrix; print and save the tally."""
    with tempfile.TemporaryDirectory() as work:
        reports = [compare_once(matrix, 1 + n, Path(work) / f"run{n}") for n in range(runs)]
    found = tally(reports)
    rows = [
        [name, row["expected"], ", ".join(f"{v} {k}" for k, v in sorted(row["verdicts"].items())),
         *(f"{row[a]}/{runs}" for a in SHOWN)]
        for name, row in found.items()
    ]  # fmt: skip
    print_table(f"On-call matrix ({matrix}, {runs} compares)", ["target", "expected", "verdicts",
                *SHOWN], rows, f"python -m benchmarks oncall{'' if matrix == 'ladder' else 'pg'} "
                f"--runs {runs}")  # fmt: skip
    save(f"oncall_{matrix}", {"runs": runs, "matrix": matrix, "targets": found})
    return found

"""Benchmark 5: wall time of the default `make compare` (the ladder), after set-up."""

import subprocess
import sys
import tempfile
import time

from benchmarks.tools import median, print_table, save


def run(runs: int = 3) -> dict:
    """Time `racelab compare` with its defaults `runs` times; print and save the median."""
    times, verdicts = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            started = time.monotonic()
            result = subprocess.run(
                [sys.executable, "-m", "racelab", "compare", "--out", out],
                capture_output=True,
                text=True,
            )
            times.append(time.monotonic() - started)
            verdicts.append(
                [
                    line.split()[-1]
                    for line in result.stdout.splitlines()
                    if line.startswith(("json:", "sqlite:"))
                ]
            )
    summary = {"seconds": median(times), "runs": times, "verdicts": verdicts}
    print_table(
        f"Compare: the default ladder, median of {runs}",
        ["seconds", "runs"],
        [[f"{summary['seconds']:.1f}", " ".join(f"{t:.1f}" for t in times)]],
        f"python -m benchmarks compare --runs {runs}",
    )
    save("compare", summary)
    return summary

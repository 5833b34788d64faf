"""Benchmark 5: wall time of the default `make compare` (the ladder), and its stability.

Each run's report.json is read back: how often each target got the same verdict, and
which anomaly classes showed in every run (the demo must not depend on luck).
"""

import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.tools import median, print_table, save


def compare_once() -> tuple[float, dict]:
    """Run `racelab compare` with its defaults; return (seconds, {target: (verdict, classes)})."""
    with tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "racelab", "compare", "--out", out],
            capture_output=True,
            check=True,
        )
        seconds = time.monotonic() - started
        report = json.loads((Path(out) / "report.json").read_text())
    outcomes = {
        f"{t['target']}@{t['workers']}": (
            t["verdict"],
            sorted(name for name, count in t["anomalies"].items() if count),
        )
        for t in report["targets"]
    }
    return seconds, outcomes


def run(runs: int = 3) -> dict:
    """Time the default compare `runs` times; print the median and each target's verdicts."""
    times, outcomes = [], []
    for _ in range(runs):
        seconds, outcome = compare_once()
        times.append(seconds)
        outcomes.append(outcome)
    stability = {}
    for target in outcomes[0]:
        verdicts = Counter(o[target][0] for o in outcomes)
        every_run = set.intersection(*(set(o[target][1]) for o in outcomes))
        stability[target] = {"verdicts": dict(verdicts), "anomalies_every_run": sorted(every_run)}
    summary = {"seconds": median(times), "runs": times, "stability": stability}
    print_table(
        f"Compare: the default ladder, median of {runs}",
        ["seconds", "runs"],
        [[f"{summary['seconds']:.1f}", " ".join(f"{t:.1f}" for t in times)]],
        f"python -m benchmarks compare --runs {runs}",
    )
    print_table(
        f"Compare: verdicts over {runs} runs",
        ["target", "verdicts", "anomaly classes in every run"],
        [
            [
                target,
                ", ".join(f"{v} {n}/{runs}" for v, n in s["verdicts"].items()),
                ", ".join(s["anomalies_every_run"]) or "-",
            ]
            for target, s in stability.items()
        ],
        f"python -m benchmarks compare --runs {runs}",
    )
    save("compare", summary)
    return summary

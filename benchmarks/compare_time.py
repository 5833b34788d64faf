"""Benchmark 5: wall time of the default `make compare` (the ladder), and its stability.

Each run's report.json is read back: how often each target got the same verdict, and
which anomaly classes showed in every run (the demo must not depend on luck).
"""

import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.tools import median, print_table, save
from shapes.reports import CompareReport, read_shape


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
        report = read_shape(Path(out) / "report.json", CompareReport)
    outcomes = {
        f"{t.target}@{t.workers}": (
            t.verdict.value,
            sorted(name for name, count in t.anomalies.items() if count),
            t.load.rps,
            t.load.latency_ms.p99,
        )
        for t in report.targets
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
    figures = {t: {"rps": [o[t][2] for o in outcomes], "p99_ms": [o[t][3] for o in outcomes]}
               for t in outcomes[0]}  # fmt: skip
    summary = {"seconds": median(times), "runs": times, "stability": stability, "figures": figures}
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
    print_table(
        f"Compare: how much each figure moves over {runs} runs (median [min-max])",
        ["target", "req/s", "p99 ms", "p99 spread / median"],
        [[target, *_spread(outcomes, target)] for target in outcomes[0]],
        f"python -m benchmarks compare --runs {runs}",
    )
    save("compare", summary)
    return summary


def _spread(outcomes: list[dict], target: str) -> list[str]:
    """Return a target's req/s and p99 as median [min-max], and the p99's relative spread."""
    rps = [o[target][2] for o in outcomes]
    p99 = [o[target][3] for o in outcomes]
    relative = (max(p99) - min(p99)) / median(p99) if median(p99) else 0.0
    return [
        f"{median(rps):.0f} [{min(rps):.0f}-{max(rps):.0f}]",
        f"{median(p99):.1f} [{min(p99):.1f}-{max(p99):.1f}]",
        f"{relative:.0%}",
    ]

"""Benchmark 2: every backend x strategy at 1 and 4 workers: throughput, latency, anomalies.

The cost of safety, measured: each target gets the same seeded load (50 VUs, 10 s), and
the checker's verdict stands beside its speed.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.tools import median, print_table, save
from racelab.compare.targets import MATRICES
from shapes.reports import CompareReport, LoadSummary, read_shape


def run_compare_once(specs: str, vus: int, seconds: int, out: Path, *extra) -> CompareReport:
    """Run racelab compare on the given targets; return its report.json."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "racelab",
            "compare",
            "--targets",
            specs,
            "--vus",
            str(vus),
            "--duration",
            f"{seconds}s",
            "--out",
            str(out),
            *extra,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return read_shape(out / "report.json", CompareReport)


def _creates(load: LoadSummary) -> int:
    """Return how many creates a load sent (none: it sent no create)."""
    create = load.by_op.get("create")
    return create.requests if create else 0


def run(runs: int = 3, vus: int = 50, seconds: int = 10, matrix: str = "full") -> dict:
    """Measure a matrix's targets (every strategy at 1 and 4 workers), `runs` times; print
    and save medians."""
    specs = ",".join(spec.name for spec in MATRICES[matrix])
    samples: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as work:
        for n in range(runs):
            report = run_compare_once(specs, vus, seconds, Path(work) / f"run{n}")
            for entry in report.targets:
                samples.setdefault(f"{entry.target}@{entry.workers}", []).append(entry)
    rows, summary = [], {}
    for name, entries in samples.items():
        load = [e.load for e in entries]
        creates = [_creates(x) / x.duration_s for x in load]
        figures = {
            "rps": median([x.rps for x in load]),
            "creates_per_s": median(creates),
            "p50_ms": median([x.latency_ms.p50 for x in load]),
            "p99_ms": median([x.latency_ms.p99 for x in load]),
            "error_pct": median([100 * x.errors / max(x.requests, 1) for x in load]),
            "verdicts": [e.verdict.value for e in entries],
            "anomalies": [sum(e.anomalies.values()) for e in entries],
        }
        summary[name] = figures
        rows.append(
            [
                name,
                f"{figures['rps']:.0f}",
                f"{figures['creates_per_s']:.0f}",
                f"{figures['p50_ms']:.1f}",
                f"{figures['p99_ms']:.1f}",
                f"{figures['error_pct']:.1f}",
                "/".join(figures["verdicts"]),
                "/".join(map(str, figures["anomalies"])),
            ]
        )
    print_table(
        f"Targets: {vus} VUs, {seconds} s, mix create=70,cancel=10,get=10,list=10, "
        f"median of {runs}",
        ["target", "req/s", "creates/s", "p50 ms", "p99 ms", "err %", "verdicts", "anomalies"],
        rows,
        f"python -m benchmarks {'targets' if matrix == 'full' else matrix} --runs {runs}",
    )
    save(
        "targets" if matrix == "full" else f"targets-{matrix}",
        {"vus": vus, "seconds": seconds, "runs": runs, "targets": summary},
    )
    return summary

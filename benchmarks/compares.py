"""Benchmarks that run whole `racelab compare`s: every target's cost, the ladder's time, on-call."""

import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.tools import median, print_table, save
from racelab.compare.targets import MATRICES
from shapes.reports import CompareReport, LoadSummary, read_shape


def compare(out: Path, *options: str) -> CompareReport:
    """Run `racelab compare` with `options` into `out`; return its report.json."""
    command = [sys.executable, "-m", "racelab", "compare", *options, "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return read_shape(out / "report.json", CompareReport)


def compare_targets(specs: str, vus: int, seconds: int, out: Path, *extra) -> CompareReport:
    """Run racelab compare on the given targets; return its report.json."""
    return compare(out, "--targets", specs, "--vus", str(vus), "--duration", f"{seconds}s", *extra)


# `targets`, `postgres`: every backend x strategy at 1 and 4 workers: throughput, latency,
# anomalies. The cost of safety, measured: each target gets the same seeded load (50 VUs,
# 10 s), and the checker's verdict stands beside its speed.


def _creates(load: LoadSummary) -> int:
    """Return how many creates a load sent (none: it sent no create)."""
    create = load.by_op.get("create")
    return create.requests if create else 0


def measure_targets(runs: int = 3, vus: int = 50, seconds: int = 10, matrix: str = "full") -> dict:
    """Measure a matrix's targets (every strategy at 1 and 4 workers), `runs` times; print
    and save medians."""
    specs = ",".join(spec.name for spec in MATRICES[matrix])
    samples: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as work:
        for n in range(runs):
            report = compare_targets(specs, vus, seconds, Path(work) / f"run{n}")
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


# `compare`: wall time of the default `make compare` (the ladder), and its stability. Each
# run's report.json is read back: how often each target got the same verdict, and which
# anomaly classes showed in every run (the demo must not depend on luck).


def time_ladder_once() -> tuple[float, dict]:
    """Run `racelab compare` with its defaults; return (seconds, {target: (verdict, classes)})."""
    with tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        report = compare(Path(out))
        seconds = time.monotonic() - started
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


def time_ladder(runs: int = 3) -> dict:
    """Time the default compare `runs` times; print the median and each target's verdicts."""
    times, outcomes = [], []
    for _ in range(runs):
        seconds, outcome = time_ladder_once()
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
    repeat = f"python -m benchmarks compare --runs {runs}"
    print_table(
        f"Compare: the default ladder, median of {runs}",
        ["seconds", "runs"],
        [[f"{summary['seconds']:.1f}", " ".join(f"{t:.1f}" for t in times)]],
        repeat,
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
        repeat,
    )
    print_table(
        f"Compare: how much each figure moves over {runs} runs (median [min-max])",
        ["target", "req/s", "p99 ms", "p99 spread / median"],
        [[target, *_spread(outcomes, target)] for target in outcomes[0]],
        repeat,
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


# `oncall`, `oncallpg`: `racelab compare --workload oncall` on a matrix, run after run. Each
# run is a whole compare with its own seed; per target it tallies the verdicts and in how
# many runs each on-call anomaly showed, beside the verdict the strategy claims.
SHOWN = ("write_skew", "lost_leave", "stale_read")


def tally_oncall_reports(reports: list[CompareReport]) -> dict:
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


def tally_oncall(runs: int = 20, matrix: str = "ladder") -> dict:
    """Run the on-call compare `runs` times on a matrix; print and save the tally."""
    with tempfile.TemporaryDirectory() as work:
        reports = [
            compare(Path(work) / f"run{n}", "--workload", "oncall", "--matrix", matrix,
                    "--seed", str(1 + n))
            for n in range(runs)
        ]  # fmt: skip
    found = tally_oncall_reports(reports)
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

"""Load held: SQLite transactional at 4 workers under the soak scenario, memory sampled.

Not part of `make bench` by default (it takes its full duration): `python -m benchmarks soak`.
Every server process's resident memory is sampled every 10 s; the check runs at the end.
"""

import csv
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from benchmarks.tools import print_table, save
from checker import check
from history import HistoryStream
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from shapes.reports import LoadSummary, read_shape

SAMPLE_S = 10.0


def process_tree(pid: int) -> list[int]:
    """Return pid and every descendant (the gunicorn arbiter and its workers)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            queue += [int(child) for child in task.read_text().split()]
    return found


def rss_mb(pid: int) -> float:
    """Return a process's resident memory in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def sample_memory(root: int, stop: threading.Event, samples: list) -> None:
    """Append {pid: MB} every SAMPLE_S seconds until stopped."""
    while not stop.wait(SAMPLE_S):
        samples.append({pid: round(rss_mb(pid), 1) for pid in process_tree(root)})


def p99_by_minute(timeline: Path) -> list[float]:
    """Return the worst per-second p99 of each minute."""
    with open(timeline, newline="") as f:
        rows = list(csv.DictReader(f))
    minutes: dict[int, float] = {}
    for row in rows:
        minute = (int(row["second"]) - 1) // 60
        minutes[minute] = max(minutes.get(minute, 0.0), float(row["p99_ms"]))
    return [round(minutes[m], 1) for m in sorted(minutes)]


def run(runs: int = 1, minutes: float = 10.0, vus: int = 20) -> dict:
    """Soak once; print and save memory drift, p99 per minute and the verdict."""
    spec = TargetSpec("sqlite", "transactional", 4)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        process, url = start_server(spec, work / "data", Settings(), work / "server.log")
        samples, stop = [], threading.Event()
        sampler = threading.Thread(target=sample_memory, args=(process.pid, stop, samples))
        sampler.start()
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "racelab",
                    "load",
                    url,
                    "--scenario",
                    "soak",
                    "--vus",
                    str(vus),
                    "--duration",
                    f"{minutes}m",
                    "--think",
                    "0.02-0.08s",
                    "--seed",
                    "1",
                    "--quiet",
                    "--history",
                    str(work / "h.jsonl"),
                    "--summary-json",
                    str(work / "s.json"),
                    "--timeline-csv",
                    str(work / "t.csv"),
                ],
                check=True,
            )
        finally:
            stop.set()
            sampler.join()
            stop_server(process)
        with HistoryStream(work / "h.jsonl") as history:
            report = check(work / "data" / "store.db", history)
        summary = read_shape(work / "s.json", LoadSummary)
        p99s = p99_by_minute(work / "t.csv")
    warm = samples[min(6, len(samples) - 1)]  # after the first minute
    last = samples[-1]
    drift = {pid: round(100 * (last.get(pid, 0) - mb) / mb, 1) for pid, mb in warm.items() if mb}
    result = {
        "minutes": minutes,
        "vus": vus,
        "requests": summary.requests,
        "rps": summary.rps,
        "p99_ms": summary.latency_ms.p99,
        "p99_by_minute": p99s,
        "rss_after_1_min_mb": warm,
        "rss_at_end_mb": last,
        "rss_drift_pct": drift,
        "anomalies": sum(report.anomalies.values()),
        "verdict": report.verdict.value,
    }
    print_table(
        f"Soak: sqlite:transactional@4, scenario soak, {vus} VUs, {minutes:g} min",
        ["requests", "req/s", "p99 ms", "worst RSS drift %", "anomalies", "verdict"],
        [
            [
                summary.requests,
                summary.rps,
                summary.latency_ms.p99,
                max(drift.values(), key=abs),
                result["anomalies"],
                report.verdict.value,
            ]
        ],
        "python -m benchmarks soak",
    )
    print(f"  p99 by minute (ms): {p99s}")
    save("soak", result)
    return result

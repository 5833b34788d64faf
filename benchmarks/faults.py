"""Benchmarks of what harm leaves: kills mid-load, power-loss durability's cost, a long soak."""

import contextlib
import csv
import itertools
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from benchmarks.compares import compare_targets
from benchmarks.tools import median, print_table, save
from checker import check
from history import HistoryStream
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from servers.json_store import document, strategies
from servers.sqlite_store.strategies import TRANSACTIONAL_SCHEMA
from shapes.reports import CheckReport, LoadSummary, read_shape

# `kills`: `racelab compare --faults kill` over many seeds, counted per target. How often
# does each strategy hold through three SIGKILLs and restarts, and how often is JSON naive's
# in-place store left unreadable (empty, truncated, or with a garbage tail)? Under 50 VUs
# naive JSON is usually wrecked by its own races before the first kill, so it is also run
# with one virtual user: no race, so any damage is the kill's. About half a minute a run.
# (targets, virtual users)
EXPERIMENTS = (
    ("json:naive@4,json:file-lock@4,sqlite:transactional@4", 50),
    ("json:naive@1", 1),
)


def store_state(error: str | None) -> str:
    """Name what a kill left of the store, from the checker's corrupt_store reason."""
    if error is None:
        return "readable"
    if "empty" in error:
        return "empty"
    if "followed by" in error:
        return "garbage tail"
    return "truncated"


def tally_kills(runs: int = 10, seconds: int = 8) -> dict:
    """Run each kill experiment once per seed 1..runs; print and save the tally."""
    tally: dict[str, Counter] = {}
    with tempfile.TemporaryDirectory() as work:
        for (targets, vus), seed in itertools.product(EXPERIMENTS, range(1, runs + 1)):
            out = Path(work) / f"{vus}vus-seed{seed}"
            report = compare_targets(
                targets, vus, seconds, out, "--faults", "kill", "--seed", str(seed)
            )
            for entry in report.targets:
                checked = read_shape(out / entry.dir / "check.json", CheckReport)
                name = f"{entry.target}@{entry.workers}, {vus} VU{'s' * (vus > 1)}"
                counts = tally.setdefault(name, Counter())
                counts["runs"] += 1
                counts[entry.verdict.value] += 1
                counts["kills"] += len(entry.faults)
                counts["restart failed"] += sum(not f.restarted for f in entry.faults)
                counts[f"store {store_state(checked.store.error)}"] += 1
                counts["lost"] += entry.anomalies.get("lost", 0)
    rows = [
        [
            name,
            c["runs"],
            c["held"],
            c["failed"],
            c["kills"],
            c["restart failed"],
            ", ".join(f"{k[6:]} {n}" for k, n in sorted(c.items()) if k.startswith("store ")),
            c["lost"],
        ]
        for name, c in tally.items()
    ]
    print_table(
        f"Kills: racelab compare --faults kill, seeds 1-{runs}, {seconds} s a run",
        ["target", "runs", "held", "failed", "kills", "restarts failed", "store at end", "lost"],
        rows,
        f"python -m benchmarks kills --runs {runs}",
    )
    save("kills", {"runs": runs, "targets": {name: dict(c) for name, c in tally.items()}})
    return tally


# `durability`: what power-loss durability costs a write, in the two strategies that promise
# it. json:file-lock's atomic replace with the file fsynced only (before) and with the folder
# fsynced after the rename too (now); sqlite:transactional's commit under
# `synchronous=NORMAL` (before) and `FULL` (now). Each is timed on a real file in the
# current folder (a tmpfs /tmp would make every fsync free), the variants alternating.
ORDERS = 2_000  # a store.json of about 170 KB: a few seconds of a compare run's writes
WRITES = 100


def _document() -> bytes:
    """Return a store.json of ORDERS orders, encoded as the store writes it."""
    doc = document.new_document(10, 100_000)
    for n in range(ORDERS):
        document.add_order(doc, f"sku-{n % 10 + 1}", 1, f"token-{n}")
    return document.encode(doc)


def json_write_ms(folder: Path, data: bytes, fsync_folder: bool) -> float:
    """Return the median time of file-lock's write, with or without the folder fsync."""
    path, times = folder / "store.json", []
    original = strategies.fsync_folder
    strategies.fsync_folder = original if fsync_folder else (lambda folder: None)
    try:
        for _ in range(WRITES):
            started = time.perf_counter()
            strategies.write_atomically(path, data, durable=True)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        strategies.fsync_folder = original
    return median(times)


def sqlite_commit_ms(folder: Path, synchronous: str) -> float:
    """Return the median time of one transactional insert-and-commit in WAL mode."""
    path, times = folder / f"store-{synchronous}.db", []
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        for statement in TRANSACTIONAL_SCHEMA:
            db.execute(statement.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
        db.execute("INSERT OR IGNORE INTO items VALUES ('sku-1', 1000000)")
        for n in range(WRITES):
            started = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE items SET stock = stock - 1 WHERE sku = 'sku-1' AND stock >= 1")
            db.execute(
                "INSERT INTO orders (sku, qty, token, created_at) VALUES ('sku-1', 1, ?, '')",
                (f"{synchronous}-{time.time_ns()}-{n}",),
            )
            db.execute("COMMIT")
            times.append((time.perf_counter() - started) * 1000)
    return median(times)


def time_durability(runs: int = 3) -> dict:
    """Time each write before and after the change; print and save the medians."""
    data, samples = _document(), {key: [] for key in ("json-before", "json-now", "NORMAL", "FULL")}
    with tempfile.TemporaryDirectory(dir=".", prefix=".bench-durability-") as work:
        folder = Path(work)
        for _ in range(runs):
            samples["json-before"].append(json_write_ms(folder, data, fsync_folder=False))
            samples["json-now"].append(json_write_ms(folder, data, fsync_folder=True))
            samples["NORMAL"].append(sqlite_commit_ms(folder, "NORMAL"))
            samples["FULL"].append(sqlite_commit_ms(folder, "FULL"))
    ms = {key: median(values) for key, values in samples.items()}
    rows = [
        ["json:file-lock write", "file fsync", "+ folder fsync", ms["json-before"], ms["json-now"]],
        ["sqlite:transactional commit", "NORMAL", "FULL", ms["NORMAL"], ms["FULL"]],
    ]
    print_table(
        f"Durability's cost: ms a write, median of {WRITES} writes, median of {runs} runs",
        ["write", "before", "now", "before ms", "now ms", "now/before"],
        [[*row[:3], f"{row[3]:.2f}", f"{row[4]:.2f}", f"{row[4] / row[3]:.1f}x"] for row in rows],
        f"python -m benchmarks durability --runs {runs}",
    )
    save("durability", {"writes": WRITES, "orders": ORDERS, "runs": runs, "ms": ms})
    return ms


# `soak`: SQLite transactional at 4 workers under the soak scenario, memory sampled. Run
# only when named (it takes its full duration): every server process's resident memory is
# sampled every 10 s; the check runs at the end.
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


def soak(runs: int = 1, minutes: float = 10.0, vus: int = 20) -> dict:
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
                [sys.executable, "-m", "racelab", "load", url, "--scenario", "soak",
                 "--vus", str(vus), "--duration", f"{minutes}m", "--think", "0.02-0.08s",
                 "--seed", "1", "--quiet", "--history", str(work / "h.jsonl"),
                 "--summary-json", str(work / "s.json"), "--timeline-csv", str(work / "t.csv")],
                check=True,
            )  # fmt: skip
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

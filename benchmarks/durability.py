"""Benchmark: what power-loss durability costs a write, in the two strategies that promise it.

json:file-lock's atomic replace with the file fsynced only (before) and with the folder
fsynced after the rename too (now); sqlite:transactional's commit under
`synchronous=NORMAL` (before) and `FULL` (now). Each is timed on a real file in the
current folder (a tmpfs /tmp would make every fsync free), the variants alternating.
"""

import contextlib
import sqlite3
import tempfile
import time
from pathlib import Path

from benchmarks.tools import median, print_table, save
from servers.json_store import document, strategies
from servers.sqlite_store.schema import TRANSACTIONAL_SCHEMA

ORDERS = 2_000  # a store.json of about 170 KB: a few seconds of a compare run's writes
WRITES = 100


def _document() -> bytes:
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


def run(runs: int = 3) -> dict:
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

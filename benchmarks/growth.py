"""Benchmark 3: how each store's write cost grows with the data already in it.

JSON file-lock rewrites the whole file on every write; SQLite writes a few pages. Each
store is pre-filled with N orders (written directly, in the documented format), then
served with 4 workers and loaded with creates only (50 VUs, 10 s).
"""

import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.tools import median, print_table, save
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from servers import init_store
from shapes.reports import LoadSummary, read_shape

SIZES = (1_000, 10_000, 100_000)
TARGETS = (("json", "file-lock"), ("sqlite", "transactional"))


def prefill(backend: str, strategy: str, data_dir: Path, orders: int) -> None:
    """Create a store holding `orders` orders, by the documented format."""
    init_store(backend, strategy, data_dir, reset=True, skus=10, stock=10**9)
    rows = [
        (n, f"sku-{1 + n % 10}", 1, f"pre-{n}", "2026-01-01T00:00:00.000Z")
        for n in range(1, orders + 1)
    ]
    if backend == "json":
        path = data_dir / "store.json"
        doc = json.loads(path.read_text())
        keys = ("id", "sku", "qty", "token", "created_at")
        doc["orders"] = [dict(zip(keys, row, strict=True)) for row in rows]
        doc["next_id"] = orders + 1
        path.write_text(json.dumps(doc, separators=(",", ":")))
    else:
        with sqlite3.connect(data_dir / "store.db") as db:
            db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", rows)


def load_once(backend: str, strategy: str, orders: int, vus: int, seconds: int) -> LoadSummary:
    """Serve a pre-filled store and load it with creates; return the load summary."""
    with tempfile.TemporaryDirectory() as work:
        data_dir = Path(work) / "data"
        prefill(backend, strategy, data_dir, orders)
        spec = TargetSpec(backend, strategy, 4)
        process, url = start_server(
            spec, data_dir, Settings(), Path(work) / "server.log", reset=False
        )
        try:
            summary_path = Path(work) / "load.json"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "racelab",
                    "load",
                    url,
                    "--vus",
                    str(vus),
                    "--duration",
                    f"{seconds}s",
                    "--mix",
                    "create=1",
                    "--quiet",
                    "--summary-json",
                    str(summary_path),
                ],
                check=True,
            )
            return read_shape(summary_path, LoadSummary)
        finally:
            stop_server(process)


def run(runs: int = 3, vus: int = 50, seconds: int = 10) -> dict:
    """Measure both stores at every size; print and save medians."""
    rows, summary = [], {}
    for backend, strategy in TARGETS:
        for size in SIZES:
            results = [load_once(backend, strategy, size, vus, seconds) for _ in range(runs)]
            name = f"{backend}:{strategy}@4"
            figures = {
                "orders_stored": size,
                "creates_per_s": median([r.rps for r in results]),
                "p99_ms": median([r.latency_ms.p99 for r in results]),
            }
            summary[f"{name} {size}"] = figures
            rows.append(
                [name, f"{size:,}", f"{figures['creates_per_s']:.0f}", f"{figures['p99_ms']:.1f}"]
            )
    print_table(
        f"Growth: creates only, 4 workers, {vus} VUs, {seconds} s, median of {runs}",
        ["target", "orders stored", "creates/s", "p99 ms"],
        rows,
        f"python -m benchmarks growth --runs {runs}",
    )
    save("growth", {"vus": vus, "seconds": seconds, "runs": runs, "results": summary})
    return summary

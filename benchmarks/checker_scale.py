"""Benchmark 4: the checker on 10k, 100k and 1M stored orders and operations, both formats.

Synthetic but realistic data: every create acknowledged and stored, one in ten cancelled.
Reported: wall seconds, CPU seconds (user + system: on a machine others share, the figure
their load disturbs least) and the peak memory of the checker's process tree (the summed
RSS of it and anything it starts, sampled every 10 ms), the two store formats run
alternately so that they share the machine's hour, with the load average when they began.

The sizes past 1M (issue 35's 10M and 30M: 1.8 and 5.6 GB of history, minutes to write)
are run on their own, on data written once and kept:
`python -m benchmarks.checker_scale --sizes 10000000 --runs 1 --data /tmp/checker-data`.
"""

import argparse
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.tools import median, print_table, save
from checker.partitions import partition_count
from history import op_record, run_record

SIZES = (10_000, 100_000, 1_000_000)
# How a check holds its history: as racelab check chooses by its size; all in memory; or a
# partition of its tokens at a time, on disk (at least two, checker/partitions.py).
WAYS = {
    "default": lambda history: [],
    "memory": lambda history: ["--partitions", "1"],
    "partitioned": lambda history: ["--partitions", str(max(2, partition_count(history)))],
}
SKUS = 10
CREATED = "2026-01-01T00:00:00.000Z"


def write_data(work: Path, size: int) -> tuple[Path, Path, Path]:
    """Write a history of `size` operations and the matching stores; return their paths."""
    items, orders, sold = {f"sku-{n}": 10**9 for n in range(1, SKUS + 1)}, [], {}
    history_path = work / "history.jsonl"
    with open(history_path, "w") as f:
        f.write(json.dumps(run_record("http://127.0.0.1:1", CREATED, 1, {}, items)) + "\n")
        for n in range(1, size + 1):
            sku, t = f"sku-{1 + n % SKUS}", n / 10_000
            if n % 10 == 0:  # cancel the previous order
                f.write(
                    json.dumps(
                        op_record(
                            "cancel",
                            n % 50,
                            f"t{n - 1}",
                            orders[-1][1],
                            1,
                            n - 1,
                            204,
                            "ok",
                            t,
                            t + 0.002,
                        )
                    )
                    + "\n"
                )
                orders.pop()
                continue
            f.write(
                json.dumps(op_record("create", n % 50, f"t{n}", sku, 1, n, 201, "ok", t, t + 0.002))
                + "\n"
            )
            orders.append((n, sku, 1, f"t{n}", CREATED))
    for _, sku, qty, _, _ in orders:
        sold[sku] = sold.get(sku, 0) + qty
    stock = {sku: items[sku] - sold.get(sku, 0) for sku in items}
    json_path = work / "store.json"
    keys = ("id", "sku", "qty", "token", "created_at")
    json_path.write_text(
        json.dumps(
            {
                "version": size,
                "items": stock,
                "next_id": size + 1,
                "orders": [dict(zip(keys, o, strict=True)) for o in orders],
            }
        )
    )
    db_path = work / "store.db"
    with sqlite3.connect(db_path) as db:
        db.execute("CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER)")
        db.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT, "
            "qty INTEGER, token TEXT, created_at TEXT)"
        )
        db.executemany("INSERT INTO items VALUES (?, ?)", stock.items())
        db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", orders)
    return history_path, json_path, db_path


def check_once(store: Path, history: Path, way: str = "default") -> dict:
    """Run racelab check once, its history in memory or partitioned as way says (WAYS);
    return wall and CPU seconds, peak RSS and its verdict."""
    command = [sys.executable, "-m", "racelab", "check", str(store), "--history", str(history)]
    measured = run_measured([*command, "--json", *WAYS[way](history)])
    report = measured.pop("output")
    return {**measured, "verdict": report["verdict"]}


def run_measured(command: list) -> dict:
    """Run a command that prints JSON; return it (output), its exit code, its wall and CPU
    seconds and the peak memory of its process tree."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = TreePeak(process.pid)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)  # wait() and the child's CPU time
    seconds = time.monotonic() - started
    process.stdout.close()
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mb": peak.stop() / 1024,
        "exit": os.waitstatus_to_exitcode(status),
        "output": json.loads(output) if output.strip() else None,
    }


class TreePeak:
    """The highest summed RSS of a process and its descendants, sampled every 10 ms."""

    def __init__(self, pid: int):
        self.pid, self.peak_kb, self._done = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))

    def stop(self) -> int:
        """Stop sampling; return the peak in KiB."""
        self._done.set()
        self._thread.join()
        return self.peak_kb


def tree_rss_kb(pid: int) -> int:
    """Return the summed resident memory of pid and its descendants, in KiB (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += _rss_kb(current)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo += [int(child) for child in f.read().split()]
        except OSError:  # gone between two reads
            continue
    return total


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("VmRSS")), 0)


def run(runs: int = 3, sizes=SIZES, data: Path | None = None, ways=("default",)) -> dict:
    """Check every size in both formats (and each way) `runs` times, alternating; print and
    save medians.

    data: a directory where each size's files are kept (written if missing), or None for
    a temporary one, deleted after.
    """
    rows, summary = [], {}
    for size in sizes:
        with _work(data, size) as work:
            history, json_store, db_store = _data(Path(work), size)
            load = os.getloadavg()[0]
            cases = [
                (f, s, w) for f, s in (("json", json_store), ("sqlite", db_store)) for w in ways
            ]
            rounds = [{(f, w): check_once(s, history, w) for f, s, w in cases} for _ in range(runs)]
            for fmt, _, way in cases:
                figures = _figures([r[(fmt, way)] for r in rounds])
                named = fmt if way == "default" else f"{fmt} {way}"
                summary[f"{named} {size}"] = figures | {"load": load}
                seconds, peak = f"{figures['seconds']:.2f}", f"{figures['peak_mb']:.0f}"
                verdicts, cpu = "/".join(figures["verdicts"]), f"{figures['cpu']:.2f}"
                rows.append([named, f"{size:,}", seconds, cpu, peak, verdicts, f"{load:.1f}"])
    print_table(
        f"Checker: N stored orders and N operations, median of {runs}, alternating",
        ["format", "N", "seconds", "CPU s", "peak MB", "verdict", "load avg"],
        rows,
        _command(runs, sizes, data, ways),
    )
    save(
        "checker" if tuple(sizes) == SIZES else "checker_large", {"runs": runs, "results": summary}
    )
    return summary


def _command(runs: int, sizes, data: Path | None, ways=("default",)) -> str:
    """Return the command that repeats a run."""
    if tuple(sizes) == SIZES and data is None and tuple(ways) == ("default",):
        return f"python -m benchmarks checker --runs {runs}"
    named = " ".join(map(str, sizes))
    kept = "" if data is None else f" --data {data}"
    told = "" if tuple(ways) == ("default",) else " --ways " + " ".join(ways)
    return f"python -m benchmarks.checker_scale --sizes {named} --runs {runs}{kept}{told}"


def _work(data: Path | None, size: int):
    """Return a context giving the directory of one size's data (kept under data)."""
    if data is None:
        return tempfile.TemporaryDirectory()
    kept = data / str(size)
    kept.mkdir(parents=True, exist_ok=True)
    return contextlib.nullcontext(kept)


def kept_data(data: Path, size: int) -> tuple[Path, Path, Path]:
    """Return one size's history and stores, kept under data (written the first time)."""
    with _work(data, size) as work:
        return _data(Path(work), size)


def _data(work: Path, size: int) -> tuple[Path, Path, Path]:
    """Return one size's history and stores, written unless work holds them already."""
    paths = (work / "history.jsonl", work / "store.json", work / "store.db")
    if not all(p.is_file() for p in paths):
        paths = write_data(work, size)
    # Files just written are still in memory (260 MB at 1M): written back 30 s later, that
    # would land in the middle of some check. It is the data's cost.
    os.sync()
    return paths


def _figures(results: list) -> dict:
    """Return the medians of one format's runs, each run's seconds, and the verdicts."""
    return {
        "seconds": median([r["seconds"] for r in results]),
        "runs": [round(r["seconds"], 2) for r in results],
        "cpu": median([r["cpu"] for r in results]),
        "peak_mb": median([r["peak_mb"] for r in results]),
        "verdicts": sorted({r["verdict"] for r in results}),
    }


def main() -> None:
    """Run the checker benchmark on the sizes named (the large ones, on kept data)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.checker_scale")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="N each.")
    parser.add_argument("--runs", type=int, default=3, help="Runs of each size and format.")
    parser.add_argument("--data", type=Path, help="Where to keep each size's files.")
    parser.add_argument("--ways", nargs="+", choices=list(WAYS), default=["default"],
                        help="How each check holds its history, alternated.")  # fmt: skip
    args = parser.parse_args()
    run(args.runs, tuple(args.sizes), args.data, tuple(args.ways))


if __name__ == "__main__":
    main()

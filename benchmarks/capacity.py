"""Capacity benchmarks: a store's write cost as it grows, threads per worker, 10,000 users."""

import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.generator import start_fast_server
from benchmarks.tools import median, pinned, print_table, run_measured, save
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from servers import init_store
from shapes.reports import LoadSummary, read_shape


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


def load_prefilled(
    backend: str, strategy: str, orders: int, vus: int, seconds: int, threads: int = 16
) -> LoadSummary:
    """Serve a pre-filled store at 4 workers and load it with creates; return the summary."""
    with tempfile.TemporaryDirectory() as work:
        data_dir = Path(work) / "data"
        prefill(backend, strategy, data_dir, orders)
        spec, settings = TargetSpec(backend, strategy, 4), Settings(threads=threads)
        return load_creates(spec, data_dir, settings, vus, seconds, reset=False)


def load_creates(spec: TargetSpec, data_dir: Path, settings: Settings, vus: int, seconds: int,
                 reset: bool = True, extra: tuple = ()) -> LoadSummary:  # fmt: skip
    """Serve spec on data_dir (extra: more serve options), send it creates for `seconds`
    with `racelab load`, stop it; return the load's summary."""
    work = data_dir.parent
    process, url = start_server(spec, data_dir, settings, work / "server.log", reset=reset,
                                extra=extra)  # fmt: skip
    try:
        summary_path = work / "load.json"
        subprocess.run(
            [sys.executable, "-m", "racelab", "load", url, "--vus", str(vus),
             "--duration", f"{seconds}s", "--mix", "create=1", "--quiet",
             "--summary-json", str(summary_path)],
            check=True,
        )  # fmt: skip
        return read_shape(summary_path, LoadSummary)
    finally:
        stop_server(process)


# `growth`: how each store's write cost grows with the data already in it. JSON file-lock
# rewrites the whole file on every write; SQLite writes a few pages. Each store is
# pre-filled with N orders (written directly, in the documented format), then served with
# 4 workers and loaded with creates only (50 VUs, 10 s).
SIZES = (1_000, 10_000, 100_000)
GROWTH_TARGETS = (("json", "file-lock"), ("sqlite", "transactional"))


def measure_growth(runs: int = 3, vus: int = 50, seconds: int = 10) -> dict:
    """Measure both stores at every size; print and save medians."""
    rows, summary = [], {}
    for backend, strategy in GROWTH_TARGETS:
        for size in SIZES:
            results = [load_prefilled(backend, strategy, size, vus, seconds) for _ in range(runs)]
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


# `threads`: the SQLite `transactional` target at 4 gunicorn workers, by threads per
# worker. gunicorn's choices for a WSGI app: sync workers (one request at a time each;
# gthread with one thread is the same), gthread (a thread pool per worker, racelab's default
# of 16), and the green-thread classes (gevent, eventlet), which need their libraries and
# monkey-patch the store's locks, so they are not a choice for a lab about locks. Creates
# only, 1,000 orders stored, 50 VUs, 10 s, alternating, median of `runs`.
THREADS = (16, 4, 1)


def measure_threads(runs: int = 3) -> dict:
    """Measure each thread count `runs` times, interleaved; print and save the medians."""
    samples: dict[int, list] = {threads: [] for threads in THREADS}
    for _ in range(runs):
        for threads in THREADS:
            summary = load_prefilled("sqlite", "transactional", 1000, 50, 10, threads)
            samples[threads].append(
                {"creates_per_s": summary.rps, "p99_ms": summary.latency_ms.p99}
            )
    rows, result = [], {}
    for threads, results in samples.items():
        rate = median([r["creates_per_s"] for r in results])
        p99 = median([r["p99_ms"] for r in results])
        result[threads] = {"creates_per_s": rate, "p99_ms": p99, "runs": results}
        rows.append([f"gthread, {threads} thread(s)", f"{rate:,.0f}", f"{p99:.1f}"])
    print_table(
        f"sqlite:transactional@4, creates only, 1,000 stored, 50 VUs, median of {runs}",
        ["worker class", "creates/s", "p99 ms"],
        rows,
        f"python -m benchmarks threads --runs {runs}",
    )
    save("worker_threads", {"runs": runs, "threads": result})
    return result


# `vus`: one `racelab load` process holding 10,000 virtual users with think time, the scale
# the original Locust project reached with four worker processes. The load starts under a
# soft open-file limit of 1,024 (a laptop's usual) so that it must raise its own; reported:
# requests, errors by cause, the generator's CPU seconds and share of one core.
VUS, THINK, SECONDS = 10_000, "1-5s", 30
# Users arrive at 1,000 a second, as Locust spawns them (its --spawn-rate), then all stay.
STAGES = f"10s:{VUS},{SECONDS - 10}s:{VUS}"


def with_laptop_limit():
    """Start the child at a soft limit of 1,024 open files, as a laptop would."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


def load_many_users(url: str, work: Path) -> dict:
    """Run the 10,000-user load once; return its figures."""
    summary_path = work / "summary.json"
    command = pinned(
        [sys.executable, "-m", "racelab", "load", url, "--stages", STAGES, "--think", THINK,
         "--mix", "items=100", "--quiet",
         "--summary-json", str(summary_path)], 1,
    )  # fmt: skip
    status, cpu, wall, output = run_measured(command, SECONDS * 4, preexec_fn=with_laptop_limit)
    summary = read_shape(summary_path, LoadSummary)
    return {
        "status": status,
        "requests": summary.requests,
        "rps": summary.rps,
        "errors": summary.errors,
        "by_cause": summary.by_cause,
        "cpu_s": round(cpu, 2),
        "core_share": round(cpu / wall, 3),
        "warned": "warning" in output,
    }


def hold_many_users(runs: int = 3) -> dict:
    """Run the 10,000-user load `runs` times against the fast endpoint; print medians."""
    server, url = start_fast_server()
    try:
        with tempfile.TemporaryDirectory() as work:
            results = [load_many_users(url, Path(work)) for _ in range(runs)]
    finally:
        server.kill()
        server.wait()
    figures = {k: median([r[k] for r in results]) for k in ("requests", "rps", "cpu_s")}
    print_table(
        f"{VUS:,} virtual users ({STAGES}), think {THINK}, one process (median of {runs})",
        ["requests", "req/s", "errors", "CPU s", "core share", "ms CPU/request"],
        [[r["requests"], r["rps"], r["errors"], r["cpu_s"], f"{r['core_share']:.0%}",
          f"{1000 * r['cpu_s'] / max(r['requests'], 1):.3f}"] for r in results],
        f"python -m benchmarks vus --runs {runs}",
    )  # fmt: skip
    save("vus", {"runs": runs, "vus": VUS, "results": results, "medians": figures})
    return figures

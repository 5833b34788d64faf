"""The SQLite `transactional` target at 4 gunicorn workers, by threads per worker.

gunicorn's choices for a WSGI app: sync workers (one request at a time each; gthread with
one thread is the same), gthread (a thread pool per worker, racelab's default of 16), and
the green-thread classes (gevent, eventlet), which need their libraries and monkey-patch
the store's locks, so they are not a choice for a lab about locks. Creates only, 1,000
orders stored, 50 VUs, 10 s, alternating, median of `runs`.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.growth import prefill
from benchmarks.tools import median, print_table, save
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from shapes.reports import LoadSummary, read_shape

THREADS = (16, 4, 1)


def load_once(threads: int, vus: int = 50, seconds: int = 10) -> LoadSummary:
    """Serve sqlite:transactional@4 with `threads` per worker, load it with creates."""
    with tempfile.TemporaryDirectory() as work:
        data_dir = Path(work) / "data"
        prefill("sqlite", "transactional", data_dir, 1000)
        spec = TargetSpec("sqlite", "transactional", 4)
        settings = Settings(threads=threads)
        process, url = start_server(spec, data_dir, settings, Path(work) / "s.log", reset=False)
        try:
            summary_path = Path(work) / "load.json"
            command = [sys.executable, "-m", "racelab", "load", url, "--vus", str(vus)]
            command += ["--duration", f"{seconds}s", "--mix", "create=1", "--quiet"]
            subprocess.run(command + ["--summary-json", str(summary_path)], check=True)
            return read_shape(summary_path, LoadSummary)
        finally:
            stop_server(process)


def run(runs: int = 3) -> dict:
    """Measure each thread count `runs` times, interleaved; print and save the medians."""
    samples = {threads: [] for threads in THREADS}
    for _ in range(runs):
        for threads in THREADS:
            summary = load_once(threads)
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

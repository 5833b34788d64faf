"""Benchmark: one `racelab load` process holding 10,000 virtual users with think time.

The scale the original Locust project reached with four worker processes. The load starts
under a soft open-file limit of 1,024 (a laptop's usual) so that it must raise its own;
reported: requests, errors by cause, the generator's CPU seconds and share of one core.
"""

import resource
import sys
import tempfile
from pathlib import Path

from benchmarks.generator import start_fast_server
from benchmarks.tools import median, pinned, print_table, run_measured, save
from shapes.reports import LoadSummary, read_shape

VUS, THINK, SECONDS = 10_000, "1-5s", 30
# Users arrive at 1,000 a second, as Locust spawns them (its --spawn-rate), then all stay.
STAGES = f"10s:{VUS},{SECONDS - 10}s:{VUS}"


def with_laptop_limit():
    """Start the child at a soft limit of 1,024 open files, as a laptop would."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


def load_once(url: str, work: Path) -> dict:
    """Run the load once; return its figures."""
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


def run(runs: int = 3) -> dict:
    """Run the 10,000-user load `runs` times against the fast endpoint; print medians."""
    server, url = start_fast_server()
    try:
        with tempfile.TemporaryDirectory() as work:
            results = [load_once(url, Path(work)) for _ in range(runs)]
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

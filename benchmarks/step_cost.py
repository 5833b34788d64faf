"""Benchmark: pause points cost nothing when stepping is off, or on for other requests.

The same server is loaded with creates three ways, side by side, alternating: `racelab
serve` as usual (stepping off), and `racelab serve --step` with no session header on any
request (every pause point is passed by a request that does not pause). A third figure
is the cost of one pause point call when stepping is off, against a request's latency.
"""

import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

from benchmarks.tools import median, print_table, save
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from shapes.reports import LoadSummary, read_shape

TARGETS = (TargetSpec("json", "thread-lock", 1), TargetSpec("sqlite", "transactional", 1))
MODES = {
    "off": (),
    # No request names a session, so the socket is never opened.
    "on, no session": ("--step", "/nonexistent/racelab-pause.sock", "--step-secret", "x" * 32),
}


def load_once(spec: TargetSpec, extra: tuple, vus: int, seconds: int) -> LoadSummary:
    """Serve a fresh store (with `extra` serve options) under creates; return the summary."""
    with tempfile.TemporaryDirectory() as work:
        process, url = start_server(
            spec, Path(work) / "data", Settings(), Path(work) / "server.log", extra=extra
        )
        try:
            summary = Path(work) / "load.json"
            subprocess.run(
                [sys.executable, "-m", "racelab", "load", url, "--vus", str(vus),
                 "--duration", f"{seconds}s", "--mix", "create=1", "--quiet",
                 "--summary-json", str(summary)],
                check=True,
            )  # fmt: skip
            return read_shape(summary, LoadSummary)
        finally:
            stop_server(process)


def pause_call_ns() -> float:
    """Return the cost of one pause point call with stepping off, in nanoseconds."""
    from servers import stepping

    calls = 1_000_000  # outside any request: no app's settings, so every point is off
    return min(timeit.repeat(lambda: stepping.pause("read"), number=calls, repeat=5)) / calls * 1e9


def run(runs: int = 3, vus: int = 20, seconds: int = 5) -> dict:
    """Measure creates/s and p99 with stepping off and on-without-session; print and save."""
    samples = {(spec.name, mode): [] for spec in TARGETS for mode in MODES}
    for _ in range(runs):
        for spec in TARGETS:
            for mode, extra in MODES.items():
                samples[spec.name, mode].append(load_once(spec, extra, vus, seconds))
    rows, summary = [], {}
    for spec in TARGETS:
        off = median([s.rps for s in samples[spec.name, "off"]])
        for mode in MODES:
            done = samples[spec.name, mode]
            rps = median([s.rps for s in done])
            p99 = median([s.latency_ms.p99 for s in done])
            summary[f"{spec.name} {mode}"] = {"rps": rps, "p99_ms": p99, "ratio": rps / off}
            rows.append([spec.name, mode, f"{rps:.0f}", f"{p99:.1f}", f"{rps / off:.2f}"])
    ns = pause_call_ns()
    summary["pause_call_off_ns"] = ns
    rows.append(["(one pause point, off)", f"{ns:.0f} ns a call", "", "", ""])
    print_table(
        f"Stepping's cost: creates only, {vus} VUs, {seconds} s, median of {runs}, alternating",
        ["target", "--step", "req/s", "p99 ms", "vs off"],
        rows,
        f"python -m benchmarks step --runs {runs}",
    )
    save("step", {"vus": vus, "seconds": seconds, "runs": runs, "results": summary})
    return summary

"""`racelab ui`'s benchmarks: a run's throughput under watchers, and the Step page's Reset."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from benchmarks.tools import median, print_table, save
from shapes.reports import CompareReport, read_shape

# `ui`: a run's throughput with 0 and 30 event-stream clients, and without the live check.
# Thirty browsers watching must not slow the run. Each row is one `racelab ui` process (the
# load generator runs in it) with sqlite:transactional@4, 50 VUs, creates and cancels as
# compare's mix, `SECONDS` s; its throughput is the run's own (report.json), and the ui
# process's own CPU seconds over the run (its threads: the load generator, the event
# streams, the store copies; not its children, the servers and the check's worker) say what
# shares the load's core and GIL. The 30 clients are threads of this process, each reading
# the run's event stream to its end. The third row serves the same app with its live check
# left out. Alternating, median of `runs`.
WATCHED = "sqlite:transactional@4"
SECONDS = 5
CASES = {  # name -> (event-stream clients, live check)
    "0 clients": (0, True),
    "30 clients": (30, True),
    "0 clients, no live check": (0, False),
}
SERVE = """
import logging
import sys
from werkzeug.serving import make_server
from racelab.ui import close_app, create_app
logging.getLogger("werkzeug").setLevel(logging.ERROR)
app = create_app({"RUNS_DIR": sys.argv[1], "LIVE_CHECK": sys.argv[2] == "1"})
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
try:
    server.serve_forever()
finally:
    close_app(app)
"""


def _post(base: str, path: str, body: dict) -> dict:
    """POST a JSON body to the ui; return its JSON answer."""
    request = urllib.request.Request(base + path, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def _watch(url: str, seen: list) -> None:
    """Read an event stream to its end, counting its events (what a browser receives)."""
    with urllib.request.urlopen(url, timeout=120) as stream:
        seen.append(sum(raw.startswith(b"data: ") for raw in stream))


def _wait_done(base: str, run_id: str, limit_s: float = 120.0) -> None:
    """Wait until the run's report is written (its status is no longer running)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/runs/{run_id}", timeout=10) as answer:
            if json.loads(answer.read())["status"] != "running":
                return
        time.sleep(0.2)
    raise RuntimeError(f"run {run_id} did not end within {limit_s:g} s")


def cpu_seconds(pid: int) -> float:
    """Return a process's own user + system CPU seconds (Linux /proc), children excluded."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(clients: int, live_check: bool) -> dict:
    """Start a ui, run the target once with `clients` watching; return its throughput."""
    with tempfile.TemporaryDirectory() as work:
        ui = subprocess.Popen([sys.executable, "-c", SERVE, work, "1" if live_check else "0"],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            base = f"http://127.0.0.1:{ui.stdout.readline().strip()}"
            cpu = cpu_seconds(ui.pid)
            started = _post(base, "/api/runs", {"targets": [WATCHED], "duration": SECONDS})
            seen: list = []
            readers = [threading.Thread(target=_watch, args=(base + started["events"], seen))
                       for _ in range(clients)]  # fmt: skip
            for reader in readers:
                reader.start()
            _wait_done(base, started["id"])
            cpu = cpu_seconds(ui.pid) - cpu
            for reader in readers:
                reader.join(60)
            report = Path(work) / started["id"] / "report.json"
            load = read_shape(report, CompareReport).targets[0].load
            return {"rps": load.rps, "p99_ms": load.latency_ms.p99, "ui_cpu_s": cpu,
                    "events": median(seen) if seen else None}  # fmt: skip
        finally:
            ui.send_signal(signal.SIGINT)  # its finally stops the servers it started
            ui.wait(60)


def measure_watchers(runs: int = 3) -> dict:
    """Measure each case `runs` times, alternating; print and save the medians."""
    samples: dict = {name: [] for name in CASES}
    for _ in range(runs):
        for name, (clients, live_check) in CASES.items():
            samples[name].append(run_once(clients, live_check))
    rows, result = [], {}
    for name, results in samples.items():
        rps = median([r["rps"] for r in results])
        p99 = median([r["p99_ms"] for r in results])
        cpu = median([r["ui_cpu_s"] for r in results])
        result[name] = {"rps": rps, "p99_ms": p99, "ui_cpu_s": cpu, "runs": results}
        rows.append([name, f"{rps:,.0f}", f"{p99:.1f}", f"{cpu:.2f}"])
    print_table(
        f"racelab ui, {WATCHED}, 50 VUs, {SECONDS} s, median of {runs}",
        ["watching", "req/s", "p99 ms", "ui cpu s"],
        rows,
        f"python -m benchmarks ui --runs {runs}",
    )
    save("ui_clients", {"runs": runs, "target": WATCHED, "seconds": SECONDS, "cases": result})
    return result


# `uireset`: the Step page: how long a new permutation takes to be ready after Reset. One
# `racelab ui` process; per target, a step session on specs/last-item-oversold.toml, then
# `runs` times: play the current permutation to its end (release A and B until both are
# done), then time POST /api/step/ID/reset alone (the store reseeded in place, the
# sessions' connections made again). The issue's goal: within 200 ms.
RESET_TARGETS = ["json:naive@1", "sqlite:transactional@4", "postgres:transactional@4"]


def _play(base: str, step_id: str, state: dict) -> None:
    """Click as a class would: the plan's next step if its session is ready, else a ready
    session (the one a lock made wait completes when the other frees it)."""
    deadline = time.monotonic() + 60
    while state.get("verdict") is None and time.monotonic() < deadline:
        ready = [lane["name"] for lane in state["sessions"] if lane["status"] == "ready"]
        wanted = (state["next"] or "").split(".")[0]
        if not ready:  # the last step ran; the check is still coming
            time.sleep(0.05)
            state = _get(base, f"/api/step/{step_id}")
            continue
        session = wanted if wanted in ready else ready[0]
        state = _post(base, f"/api/step/{step_id}/release", {"session": session})
    if state.get("verdict") is None:
        raise RuntimeError(f"step {step_id}: no verdict within 60 s")


def _get(base: str, path: str) -> dict:
    """GET a path of the ui; return its JSON answer."""
    with urllib.request.urlopen(base + path, timeout=60) as answer:
        return json.loads(answer.read())


def reset_times(base: str, target: str, runs: int) -> list[float]:
    """Return the seconds each reset took on target, between plays of the permutation."""
    step = _post(base, "/api/step", {"spec": "last-item-oversold", "target": target})
    state = _post(base, f"/api/step/{step['id']}/reset", {"permutation": 2})
    times = []
    for _ in range(runs):
        _play(base, step["id"], state)
        started = time.perf_counter()
        state = _post(base, f"/api/step/{step['id']}/reset", {"permutation": 2})
        times.append(time.perf_counter() - started)
    return times


def time_resets(runs: int = 10) -> dict:
    """Time `runs` resets per target; print and save the medians and the slowest."""
    with tempfile.TemporaryDirectory() as work:
        ui = subprocess.Popen([sys.executable, "-c", SERVE, work, "1"], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
        try:
            base = f"http://127.0.0.1:{ui.stdout.readline().strip()}"
            result = {target: reset_times(base, target, runs) for target in RESET_TARGETS}
        finally:
            ui.send_signal(signal.SIGINT)  # its finally stops the servers it started
            ui.wait(60)
    rows = [[t, f"{median(s) * 1000:.0f}", f"{max(s) * 1000:.0f}"] for t, s in result.items()]
    print_table(
        f"racelab ui: a new permutation ready after Reset, {runs} resets per target",
        ["target", "median ms", "slowest ms"],
        rows,
        f"python -m benchmarks uireset --runs {runs}",
    )
    save("ui_reset", {"runs": runs, "seconds": result})
    return result

"""`racelab ui`'s Step page: how long a new permutation takes to be ready after Reset.

One `racelab ui` process; per target, a step session on specs/last-item-oversold.toml,
then `runs` times: play the current permutation to its end (release A and B until
both are done), then time POST /api/step/ID/reset alone (the store reseeded in place, the
sessions' connections made again). The issue's goal: within 200 ms.
"""

import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchmarks.tools import median, print_table, save
from benchmarks.ui_clients import SERVE, _post

TARGETS = ["json:naive@1", "sqlite:transactional@4", "postgres:transactional@4"]


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


def run(runs: int = 10) -> dict:
    """Time `runs` resets per target; print and save the medians and the slowest."""
    with tempfile.TemporaryDirectory() as work:
        ui = subprocess.Popen([sys.executable, "-c", SERVE, work, "1"], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
        try:
            base = f"http://127.0.0.1:{ui.stdout.readline().strip()}"
            result = {target: reset_times(base, target, runs) for target in TARGETS}
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

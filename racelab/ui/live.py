"""Follow one target's load as it runs: progress 4 times a second, a provisional check each second.

The watcher runs on the load's own event loop (loadtests.run calls its watch(run)); a
thread of its own copies the store, and a worker process (racelab/ui/judge.py) checks the
copy against the history so far, so the check never holds the load's GIL. A write whose
answer had not come when the store was copied is not judged: it goes to the checker as
`info`, which may or may not have happened (never lost, never unexpected).
"""

import asyncio
import functools
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from shapes.reports import CheckReport

TICK_S = 0.2  # progress events: at least 4 a second per running target
CHECK_EVERY_S = 1.0
WRITE_OPS = ("create", "cancel")
COPY_TRIES = 5  # a JSON file rewritten in place is read until two reads agree


class Watcher:
    """The live hook of one compare run: emits events for whichever target is loading."""

    def __init__(self, emit, stopped: threading.Event):
        self.emit = emit
        self.stopped = stopped
        # (name, history path, store path or None) of the target loading, set as each starts.
        self.target: tuple[str, Path, Path | None] = ("", Path(), None)
        self.latest = {"acknowledged": 0, "stored": 0, "anomalies": {}}
        self.worker = Worker()

    def close(self) -> None:
        """End the check's worker process (the run is over)."""
        self.worker.close()

    def start_target(self, name: str, target_dir: Path, checkable: bool) -> None:
        """Note the target about to be loaded, and where its history and store will be."""
        store = target_dir / "data" if checkable else None
        self.target = (name, target_dir / "history.jsonl", store)
        self.latest = {"acknowledged": 0, "stored": 0, "anomalies": {}}
        if checkable:  # on a busy machine its start-up could outlast a short target's load
            self.worker.warm()

    async def watch(self, run) -> None:
        """Emit progress until cancelled; start a check each second; stop the load on Stop."""
        run.pending = {}  # before the first request: this runs while the items are read
        name, history_path, store = self.target
        loop = asyncio.get_running_loop()
        done = functools.partial(self.checked, name)
        checker = None if store is None else LiveCheck(run, loop, history_path, store, done,
                                                        self.worker)  # fmt: skip
        last, last_check = _Sample(0.0, 0, 0), 0.0
        while True:
            await asyncio.sleep(TICK_S)
            if self.stopped.is_set():
                run.stopping = True  # the users stop at their next step; in-flight ends
            if not run._start:
                continue
            now = _Sample(run.elapsed(), run.stats.total.requests, run.stats.total.errors)
            self.emit(self._progress(name, run, last, now))
            last = now
            if checker is not None and now.t - last_check >= CHECK_EVERY_S and checker.idle():
                last_check = now.t
                checker.start()

    def _progress(self, name: str, run, last, now) -> dict:
        """Return one progress event from the run's counters."""
        dt = max(now.t - last.t, 1e-6)
        lat = run.stats.timeline.so_far()
        return {
            "type": "progress",
            "target": name,
            "elapsed_s": round(now.t, 2),
            "requests": now.requests,
            "rps": round((now.requests - last.requests) / dt, 1),
            "errors_per_s": round((now.errors - last.errors) / dt, 1),
            "p50_ms": lat["p50"],
            "p95_ms": lat["p95"],
            "p99_ms": lat["p99"],
            "users": run.active_vus,
            **self.latest,
            "provisional": True,
        }

    def checked(self, name: str, result: dict) -> None:
        """Emit a live check of target name; keep its counts for the next progress events
        while name is still the target loading. A check can outlive its target's load (a
        busy machine): the next target's card must never show its counts."""
        if name == self.target[0]:
            self.latest = {k: result[k] for k in ("acknowledged", "stored", "anomalies")}
        self.emit({"type": "check", "target": name, **result})


class _Sample:
    __slots__ = ("t", "requests", "errors")

    def __init__(self, t: float, requests: int, errors: int):
        self.t, self.requests, self.errors = t, requests, errors


class Worker:
    """The live check's worker process: started at the first check, ended with the run."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def warm(self) -> None:
        """Start the worker now, so that its imports are done before the first check."""
        with self.lock:
            self._started()

    def _started(self) -> subprocess.Popen:
        if self.process is None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "racelab.ui.judge"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
        return self.process

    def ask(self, request: dict) -> dict:
        """Send one check to the worker and return its answer ({} if it is gone)."""
        with self.lock:
            process = self._started()
            assert process.stdin is not None and process.stdout is not None  # pipes, above
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        return json.loads(line) if line else {}

    def close(self) -> None:
        """Close its input: it ends after the check under way; kill it if it does not."""
        process = self.process
        if process is None:
            return
        assert process.stdin is not None and process.stdout is not None  # pipes, at start
        try:
            process.stdin.close()
            process.wait(10)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        process.stdout.close()


class LiveCheck:
    """One provisional check at a time, of a copy of the store and the history so far."""

    def __init__(self, run, loop, history_path: Path, store_dir: Path, done, worker: Worker):
        self.run, self.loop, self.history_path = run, loop, history_path
        self.store_dir, self.done, self.worker = store_dir, done, worker
        self._thread: threading.Thread | None = None
        self.drawn: set = set()  # classes whose first example's swimlane was sent

    def idle(self) -> bool:
        """Say whether no check is under way."""
        return self._thread is None or not self._thread.is_alive()

    def start(self) -> None:
        """Start a check in its own thread."""
        self._thread = threading.Thread(target=self._check, daemon=True)
        self._thread.start()

    def _check(self) -> None:
        """Copy the store, then take the history and what is in flight; check; report."""
        work = Path(tempfile.mkdtemp(prefix="racelab-live-"))
        try:
            copied_at = self.run.elapsed()  # every answer after this is not judged
            copy = copy_store(self.store_dir, work)
            if copy is None:
                return
            future = asyncio.run_coroutine_threadsafe(self._in_flight(), self.loop)
            pending, now = future.result(timeout=5)
            answer = self.worker.ask({
                "copy": str(copy), "shown": str(copy).replace(str(work), "data"),
                "history": str(self.history_path), "copied_at": copied_at,
                "pending": [_info_record(op, now) for op in pending if op.op in WRITE_OPS],
                "drawn": sorted(self.drawn),
            })  # fmt: skip
            if answer and "error" not in answer:
                self.drawn |= set(answer.get("swimlanes", {}))
                self.done(answer)
        except Exception:  # noqa: BLE001 - a live check is provisional; the final one counts
            return
        finally:
            shutil.rmtree(work, ignore_errors=True)

    async def _in_flight(self) -> tuple[list, float]:
        """Flush the history and return (the operations in flight, now), on the load's loop."""
        if self.run.history is not None:
            self.run.history.flush()
        return list((self.run.pending or {}).values()), self.run.elapsed()


def copy_store(data_dir: Path, work: Path) -> Path | None:
    """Copy a JSON or SQLite store into work, consistently; None if there is none yet."""
    from checker.stores import resolve_store_path

    try:
        path = Path(resolve_store_path(data_dir))
    except (FileNotFoundError, TypeError):
        return None
    target = work / path.name
    if path.suffix == ".json":
        target.write_bytes(_settled_bytes(path))
    else:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        with sqlite3.connect(target) as dest:
            source.backup(dest)  # one consistent snapshot, whatever is being written
        source.close()
    return target


def _settled_bytes(path: Path) -> bytes:
    """Read a file until two reads agree: one rewritten in place may be read half-written."""
    data = path.read_bytes()
    for _ in range(COPY_TRIES):
        time.sleep(0.005)
        again = path.read_bytes()
        if again == data:
            break
        data = again
    return data


def history_so_far(path: Path, copied_at: float, pending: list[dict]) -> list[str]:
    """Return the history's lines, with every write not answered before the copy as info,
    and then pending's records (the writes in flight)."""
    text = path.read_text()
    lines = text.splitlines()
    if text and not text.endswith("\n"):
        lines = lines[:-1]  # a line being written
    if not lines:
        return []
    out = [lines[0]]
    for line in lines[1:]:
        record = json.loads(line)
        if record["t1"] > copied_at and record["type"] != "info":
            record["type"] = "info"  # answered after the copy: its write may not be in it
            line = json.dumps(record)
        out.append(line)
    out += [json.dumps(record) for record in pending]
    return out


def _info_record(op, now: float) -> dict:
    """Return a history record for an operation still in flight: it may or may not happen."""
    from history import op_record

    return op_record(op.op, op.vu, op.token, op.sku, op.qty, op.order_id, None, "info",
                     op.t0, max(now, op.t0), "in flight")  # fmt: skip


def summary(report: CheckReport, copy: str = "", shown: str = "") -> dict:
    """Return what the page shows of a provisional check (the copy's path shown as shown)."""
    anomalies = {k: v for k, v in report.anomalies.items() if v}
    return {
        "provisional": True,
        "acknowledged": report.history.creates.ok if report.history else 0,
        "stored": report.store.orders,
        "anomalies": anomalies,
        "examples": {
            k: v[0].text.replace(copy, shown) if copy else v[0].text
            for k, v in report.examples.items()
            if v
        },
    }

"""Compare runs started from the page: each in a thread of its own, its events kept in order.

A run is `racelab compare` itself (run_compare), its report written where compare writes
one; the page only watches it. Stop ends the load at once; the target under way is still
stopped and checked, the rest are not started, and the report holds what was done.
"""

import functools
import threading
import time
from datetime import datetime
from pathlib import Path

from racelab.compare.targets import TargetSpec
from racelab.exceptions import RacelabError
from racelab.ui.live import Watcher
from shapes.reports import CompareEntry, CompareReport

FOLLOW_WAIT_S = 15.0  # an idle event stream sends a comment this often, to notice a closed page


class EventLog:
    """Events kept in order; any number of readers follow them from the first."""

    def __init__(self):
        self.events: list[dict] = []
        self.closed = False
        self.changed = threading.Condition()

    def emit(self, event: dict) -> None:
        """Append one event and wake the readers."""
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def close(self) -> None:
        """Say that no event will follow."""
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def _past(self, at: int) -> bool:
        return len(self.events) > at or self.closed

    def follow(self, start: int = 0):
        """Yield events from start as they come, None when idle, until the log is closed."""
        at = start
        while True:
            with self.changed:
                self.changed.wait_for(functools.partial(self._past, at), FOLLOW_WAIT_S)
                batch, closed = self.events[at:], self.closed
            at += len(batch)
            idle: list[dict | None] = [] if closed else [None]
            yield from batch or idle
            if closed and not batch:
                return


class Stopped(RacelabError):
    """Stop was asked: no further target starts."""


class Run:
    """One compare run: its settings, its thread, its events, what it has found."""

    def __init__(self, run_id: str, specs: list, settings, out_dir: Path, live_check=True):
        self.live_check = live_check
        self.id, self.specs, self.settings, self.out_dir = run_id, specs, settings, out_dir
        self.started = datetime.now().isoformat(timespec="seconds")
        self.status = "running"
        self.entries: list[CompareEntry] = []
        self.log = EventLog()
        self.stop_asked = threading.Event()
        self.watcher = Watcher(self.log.emit, self.stop_asked)
        self.thread = threading.Thread(target=self._run, name=f"run {run_id}", daemon=True)

    def summary(self) -> dict:
        """Return what GET /api/runs lists of it."""
        verdicts = {e.dir: e.verdict.value for e in self.entries}
        return {
            "id": self.id,
            "started": self.started,
            "status": self.status,
            "report": f"/runs/{self.id}/report.html" if self.status != "running" else None,
            "targets": [{"target": s.name, "verdict": verdicts.get(s.slug)} for s in self.specs],
        }

    def stop(self, wait: float) -> None:
        """End the load at once and wait (up to wait seconds) for the run to finish."""
        self.stop_asked.set()
        self.thread.join(wait)

    def _run(self) -> None:
        """Run compare, write its report, emit the done event whatever happened."""
        from racelab.compare.run import run_compare, settings_dict
        from racelab.report import write_report

        started = time.monotonic()
        report = None
        try:
            report = run_compare(self.specs, self.settings, self.out_dir, self._progress,
                                 self.watcher)  # fmt: skip
        except Stopped:
            pass
        except Exception as e:  # noqa: BLE001 - the page must hear why, not a silent stop
            self.log.emit({"type": "error", "message": f"{type(e).__name__}: {e}"})
        if report is None:
            done = [e.dir for e in self.entries]
            report = CompareReport(
                settings=settings_dict(self.settings, self.specs),
                targets=self.entries,
                could_not_run=[s.name for s in self.specs if s.slug not in done],
                seconds=round(time.monotonic() - started, 1),
            )
        report.stopped = self.stop_asked.is_set()
        try:
            write_report(report, self.out_dir)
        finally:
            self.watcher.close()
            self.status = "stopped" if self.stop_asked.is_set() else "done"
            self.log.emit({"type": "done", "status": self.status, **self.summary()})
            self.log.close()

    def _progress(self, event) -> None:
        """Turn compare's progress into events; refuse to start a target after Stop."""
        from racelab.compare.run import CouldNotRun, Finished, Starting

        if isinstance(event, Starting):
            if self.stop_asked.is_set():
                raise Stopped
            spec = event.spec
            checkable = self.live_check and _checkable(spec, self)
            self.watcher.start_target(spec.name, self.out_dir / spec.slug, checkable)
            self.log.emit({"type": "starting", "target": spec.name, "index": event.index,
                           "total": event.total})  # fmt: skip
        elif isinstance(event, Finished):
            self.entries.append(event.entry)
            swimlanes = first_swimlanes(self.out_dir / event.spec.slug, event.entry)
            self.log.emit(_finished(event.spec.name, event.entry, swimlanes))
        elif isinstance(event, CouldNotRun):
            self.log.emit({"type": "could_not_run", "target": event.spec.name,
                           "reason": event.reason})  # fmt: skip


def _checkable(spec, run: Run) -> bool:
    """Say whether a target's store can be copied mid-run: a file of racelab's own."""
    own_file = isinstance(spec, TargetSpec) and spec.backend in ("json", "sqlite")
    return own_file and run.settings.faults != "power-loss"  # that store lives on a FUSE layer


def first_swimlanes(target_dir: Path, entry: CompareEntry) -> dict:
    """Return {class: SVG} of the first example of each class the final check found."""
    from racelab.report.swimlane import swimlane_svg, target_lanes

    store_file = entry.read != "api"  # as the report draws them
    lanes = target_lanes(target_dir, per_class=1, store_file=store_file)
    return {lane.anomaly: str(swimlane_svg(lane)) for lane in lanes if lane.records}


def _finished(name: str, entry: CompareEntry, swimlanes: dict) -> dict:
    """Return the event of a target's final check, with its examples' swimlanes."""
    return {
        "type": "finished",
        "target": name,
        "verdict": entry.verdict.value,
        "provisional": False,
        "anomalies": {k: v for k, v in entry.anomalies.items() if v},
        "examples": entry.examples,
        "swimlanes": swimlanes,
        "requests": entry.load.requests,
        "rps": entry.load.rps,
        "p99_ms": entry.load.latency_ms.p99,
    }


class RunManager:
    """Every run this app started, by id; at most one runs at a time (they share the cores)."""

    def __init__(self, runs_dir: Path, live_check: bool = True):
        self.runs_dir, self.live_check = Path(runs_dir), live_check
        self.runs: dict[str, Run] = {}
        self.lock = threading.Lock()

    def start(self, specs: list, settings) -> Run:
        """Start a run in its own thread, its folder under runs_dir; return it."""
        with self.lock:
            if any(r.status == "running" for r in self.runs.values()):
                raise RunUnderWay("a run is under way; stop it or wait for its done event")
            run_id = self._new_id()
            out_dir = self.runs_dir / run_id
            out_dir.mkdir(parents=True)
            run = self.runs[run_id] = Run(run_id, specs, settings, out_dir, self.live_check)
        run.thread.start()
        return run

    def _new_id(self) -> str:
        """Return a folder name like compare's own, made unique."""
        base = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id, n = base, 1
        while (self.runs_dir / run_id).exists():
            n += 1
            run_id = f"{base}-{n}"
        return run_id

    def stop_all(self, wait: float = 60.0) -> None:
        """Stop every run still going (the app is closing)."""
        for run in list(self.runs.values()):
            if run.thread.is_alive():
                run.stop(wait)


class RunUnderWay(RacelabError):
    """A run is already under way."""

"""Run a compare: each target served, loaded, stopped and checked in turn.

Progress goes to a callback; the command line decides how to show it.
"""

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from checker import check
from history import HistoryStream
from loadtests.run import execute
from loadtests.runner import LoadConfig, LoadError
from racelab.compare.faults import Killer, kill_times
from racelab.compare.process import TargetFailed, log_tail, start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec


def load_config(url: str, settings: Settings) -> LoadConfig:
    """Return the load every target gets."""
    return LoadConfig(
        url=url,
        duration=settings.duration,
        max_requests=settings.max_requests,
        vus=settings.vus,
        mix=settings.mix,
        seed=settings.seed,
        retries=settings.retries,
        timeout=settings.timeout,
    )


def run_target(spec: TargetSpec, settings: Settings, out_dir: Path, live=None) -> dict:
    """Serve, load, stop and check one target; return its entry for report.json."""
    target_dir = out_dir / spec.slug
    data_dir = target_dir / "data"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TargetFailed(f"cannot create {data_dir}: {e.strerror}") from None
    log_path = target_dir / "server.log"
    process, url = start_server(spec, data_dir, settings, log_path)
    killer = None
    if settings.faults == "kill":
        times = kill_times(settings.seed, spec.slug, settings.kills, settings.duration)
        killer = Killer(spec, data_dir, settings, log_path, process, url, times)
        killer.start()
    try:
        summary, _ = execute(
            load_config(url, settings),
            target_dir / "history.jsonl",
            (),
            live,
            target_dir / "load.json",
            target_dir / "timeline.csv",
        )
    except LoadError as e:
        raise TargetFailed(str(e)) from None
    finally:
        process = killer.finish() if killer else process
        if process is not None:
            stop_server(process)
    store = data_dir / ("store.json" if spec.backend == "json" else "store.db")
    with HistoryStream(target_dir / "history.jsonl") as history:  # streamed: runs may be long
        report = check(store, history)
    (target_dir / "check.json").write_text(json.dumps(report, indent=2))
    return {
        "target": f"{spec.backend}:{spec.strategy}",
        "backend": spec.backend,
        "strategy": spec.strategy,
        "workers": spec.workers,
        "verdict": report["verdict"],
        "faults": killer.events if killer else [],
        "anomalies": report["anomalies"],
        "contention": report["contention"],
        "load": summary,
        "dir": spec.slug,
        "examples": {k: [e["text"] for e in v[:1]] for k, v in report["examples"].items()},
    }


def settings_dict(settings: Settings, specs: list[TargetSpec]) -> dict:
    """Return the run's settings for report.json."""
    return {**asdict(settings), "targets": [s.name for s in specs]}


OVERHEAD_GUESS_S = 2.5  # start, stop and check of one target, before any was measured


@dataclass
class Starting:
    """A target is about to run."""

    index: int
    total: int
    spec: TargetSpec
    elapsed_s: float
    left_s: float


@dataclass
class CouldNotRun:
    """A target could not be run; the rest still will."""

    spec: TargetSpec
    reason: str
    log_tail: str


def run_compare(specs, settings: Settings, out_dir: Path, progress=None, live=None) -> dict:
    """Run every target in turn; return the compare report (what report.json holds)."""
    progress = progress or (lambda event: None)
    entries, failures, started = [], [], time.monotonic()
    per_target = settings.duration + OVERHEAD_GUESS_S
    for index, spec in enumerate(specs):
        elapsed = time.monotonic() - started
        progress(Starting(index, len(specs), spec, elapsed, (len(specs) - index) * per_target))
        try:
            entries.append(run_target(spec, settings, out_dir, live))
        except TargetFailed as e:
            failures.append(spec.name)
            progress(CouldNotRun(spec, str(e), log_tail(out_dir / spec.slug / "server.log")))
        per_target = (time.monotonic() - started) / (index + 1)
    return {
        "settings": settings_dict(settings, specs),
        "targets": entries,
        "could_not_run": failures,
        "seconds": round(time.monotonic() - started, 1),
    }

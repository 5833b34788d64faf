"""Run a compare: each target served, loaded, stopped and checked in turn.

Progress goes to a callback; the command line decides how to show it.
"""

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from msgspec import UNSET

from checker import check
from history import HistoryStream
from loadtests.config import LoadConfig
from loadtests.run import execute
from loadtests.runner import LoadError
from racelab.compare.external import ExternalTarget
from racelab.compare.faults import Killer, PowerCut, kill_times, store_layer
from racelab.compare.launch import launch, require_empty, store_to_check
from racelab.compare.process import TargetFailed, log_tail, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from racelab.process_exit import finishing
from shapes.reports import CheckReport, CompareEntry, CompareReport, LoadSummary, write_shape


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
        workload=settings.workload,
    )


def run_target(spec: TargetSpec, settings: Settings, out_dir: Path, live=None) -> CompareEntry:
    """Serve, load, stop and check one target; return its entry for report.json."""
    target_dir = out_dir / spec.slug
    data_dir = target_dir / "data"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TargetFailed(f"cannot create {data_dir}: {e.strerror}") from None
    with store_layer(spec, settings, data_dir, target_dir / "fuse.log") as layer:
        report, summary, faults = _served(spec, settings, target_dir, layer, live)
    return _entry(spec, report, summary, faults, settings.workload)


def _served(spec, settings: Settings, target_dir: Path, layer, live):
    """Start, load, stop and check a target keeping its store in layer.dir."""
    process, url = _started(spec, layer.dir, settings, target_dir / "server.log")
    through_api = isinstance(spec, ExternalTarget)
    try:
        summary, faults, process = _loaded(spec, settings, target_dir, process, url, live, layer)
        if not through_api:
            if process is not None:
                stop_server(process)  # a store file is read once nothing writes it any more
            layer.stop()  # a FUSE layer writes what it holds back into data/ as it unmounts
        report = _checked(store_to_check(spec, target_dir / "data", url), target_dir)
    finally:
        if process is not None:
            stop_server(process)  # an external one is read through its API, so it stops last
    return report, summary, faults


def _started(spec, data_dir: Path, settings: Settings, log_path: Path):
    """Start the target (an already running one is asked to be empty); return (process, URL)."""
    if settings.faults == "kill" and getattr(spec, "url", None):
        raise TargetFailed("--faults kill needs a target racelab starts; a url: target is not")
    if isinstance(spec, ExternalTarget) and spec.command:
        _emptied(data_dir)  # a fresh store for its first start; a restart after a kill keeps it
    process, url = launch(spec, data_dir, settings, log_path)
    if isinstance(spec, ExternalTarget):
        try:
            require_empty(url)
        except BaseException:  # not empty, or a signal stops racelab meanwhile
            if process is not None:
                stop_server(process)
            raise
    return process, url


def _emptied(data_dir: Path) -> None:
    """Empty racelab's own data folder for a target (an earlier run with the same --out)."""
    import shutil

    for child in list(data_dir.iterdir()):  # the folder itself may be a mount point
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def _loaded(spec, settings: Settings, target_dir: Path, process, url: str, live, layer):
    """Run the load (with its kills); return (summary, what the kills did, the process serving)."""
    killer = None
    if settings.faults in ("kill", "power-loss"):
        cut = settings.faults == "power-loss"  # one cut: the store is then checked as it was left
        kills = 1 if cut else settings.kills
        times = kill_times(settings.seed, spec.slug, kills, settings.duration)
        args = (spec, layer.dir, settings, target_dir / "server.log", process, url, times)
        killer = PowerCut(layer, *args) if cut else Killer(*args)
        killer.start()
    try:
        summary, _ = execute(load_config(url, settings), target_dir / "history.jsonl", (), live,
                             target_dir / "load.json", target_dir / "timeline.csv")  # fmt: skip
    except BaseException as e:
        # The caller stops the process it knows; one a kill fault restarted is stopped here.
        with finishing():
            serving = killer.finish() if killer else process
            if serving is not None and serving is not process:
                stop_server(serving)
        if isinstance(e, LoadError):
            raise TargetFailed(str(e)) from None
        raise
    process = killer.finish() if killer else process
    return summary, (killer.outcome() if killer else ([], UNSET)), process


def _checked(store, target_dir: Path) -> CheckReport:
    """Check the store (a file, or a server's URL) against the history; keep the report."""
    with HistoryStream(target_dir / "history.jsonl") as history:  # streamed: runs may be long
        report = check(store, history)
    write_shape(target_dir / "check.json", report)
    return report


def _entry(
    spec, report: CheckReport, summary: LoadSummary, faults: tuple, workload: str = "orders"
) -> CompareEntry:
    """Return the target's CompareEntry for report.json (faults: the kills made, and those
    planned but not made, UNSET without kills)."""
    external = isinstance(spec, ExternalTarget)
    expected = spec.expected if external else spec.expected_for(workload)
    return CompareEntry(
        target=spec.name if external else f"{spec.backend}:{spec.strategy}",
        backend=spec.backend,
        strategy=spec.strategy,
        workers=spec.workers,
        why=spec.why,
        claims=spec.claims,
        expected=expected,
        workload=workload,
        read="api" if external else "file",
        store_error=report.store.error,
        verdict=report.verdict,
        faults=faults[0],
        kills_unmade=faults[1],
        anomalies=report.anomalies,
        contention=report.contention,
        load=summary,
        dir=spec.slug,
        examples={k: [e.text for e in v[:1]] for k, v in report.examples.items()},
    )


def settings_dict(settings: Settings, specs: list[TargetSpec]) -> dict:
    """Return the run's settings for report.json."""
    return {**asdict(settings), "targets": [s.name for s in specs]}


OVERHEAD_GUESS_S = 1.0  # start, drain, stop and check of one target, before any was measured


@dataclass
class Starting:
    """A target is about to run."""

    index: int
    total: int
    spec: TargetSpec
    elapsed_s: float
    left_s: float


@dataclass
class Finished:
    """A target ran; entry is its report.json entry, verdict included."""

    spec: TargetSpec
    entry: CompareEntry
    elapsed_s: float


@dataclass
class CouldNotRun:
    """A target could not be run; the rest still will."""

    spec: TargetSpec
    reason: str
    log_tail: str


def run_compare(
    specs, settings: Settings, out_dir: Path, progress=None, live=None
) -> CompareReport:
    """Run every target in turn; return the compare report (what report.json holds)."""
    progress = progress or (lambda event: None)
    entries, failures, started = [], [], time.monotonic()
    per_target = settings.duration + OVERHEAD_GUESS_S
    for index, spec in enumerate(specs):
        elapsed = time.monotonic() - started
        progress(Starting(index, len(specs), spec, elapsed, (len(specs) - index) * per_target))
        try:
            entries.append(run_target(spec, settings, out_dir, live))
            progress(Finished(spec, entries[-1], time.monotonic() - started))
        except TargetFailed as e:
            failures.append(spec.name)
            progress(CouldNotRun(spec, str(e), log_tail(out_dir / spec.slug / "server.log")))
        per_target = (time.monotonic() - started) / (index + 1)
    return CompareReport(
        settings=settings_dict(settings, specs),
        targets=entries,
        could_not_run=failures,
        seconds=round(time.monotonic() - started, 1),
    )

"""`racelab compare`: the same seeded load against each target, each checked, side by side."""

import json
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from checker import check
from history import HistoryStream
from loadtests.run import execute
from loadtests.runner import LoadConfig, LoadError
from racelab.faults import Killer, kill_times
from racelab.targets import TargetSpec

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


class TargetFailed(Exception):
    """A target could not be run: it did not start, or the load could not begin."""


@dataclass
class Settings:
    """What every target in one compare run gets."""

    vus: int = 50
    duration: float = 8.0
    max_requests: int = 1_000_000  # a lab sized by what must happen, not by the clock
    seed: int = 42
    skus: int = 10
    stock: int = 100_000
    threads: int = 16
    mix: dict = field(default_factory=lambda: {"create": 70, "cancel": 10, "get": 10, "list": 10})
    retries: int = 0
    timeout: float = 5.0
    faults: str | None = None  # None, "kill" or "retry"
    kills: int = 3
    delay: tuple | None = None  # the servers' injected delay range, seconds


def serve_command(spec: TargetSpec, data_dir: Path, settings: Settings, port=0, reset=True):
    """Return the `racelab serve` command line for a target."""
    return [
        sys.executable, "-m", "racelab", "serve", spec.backend, "--strategy", spec.strategy,
        "--data-dir", str(data_dir), "--port", str(port), "--workers", str(spec.workers),
        "--threads", str(settings.threads), "--skus", str(settings.skus),
        "--stock", str(settings.stock), *(["--reset"] if reset else []),
        *(["--delay", f"{settings.delay[0]}-{settings.delay[1]}s"] if settings.delay else []),
    ]  # fmt: skip


def start_server(
    spec: TargetSpec,
    data_dir: Path,
    settings: Settings,
    log_path: Path,
    port: int = 0,
    reset: bool = True,
):
    """Start `racelab serve` (port 0: a free loopback one); return (process, base URL).

    The server leads its own process group, so a fault can kill it with its workers.
    """
    offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "a") as log:
        process = subprocess.Popen(
            serve_command(spec, data_dir, settings, port, reset),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        url = _wait_for_url(process, log_path, offset)
        _wait_for_health(url, process, log_path)
    except TargetFailed:
        stop_server(process)
        raise
    return process, url


def _wait_for_url(process, log_path: Path, offset: int) -> str:
    """Return the URL the server announces in its log after offset (an earlier life's is older)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        with open(log_path, "rb") as log:
            log.seek(offset)
            lines = log.read().decode(errors="replace").splitlines()
        for line in lines:
            if line.startswith("racelab serve:") and " on http://" in line:
                return line.split(" on ", 1)[1].split()[0]
        if process.poll() is not None:
            raise TargetFailed(f"the server exited with status {process.returncode}")
        time.sleep(0.05)
    raise TargetFailed(f"the server did not announce its address within {START_TIMEOUT_S:g} s")


def _wait_for_health(url: str, process, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None:
            raise TargetFailed(f"the server exited with status {process.returncode}")
        time.sleep(0.05)
    raise TargetFailed(f"{url}/health did not answer within {START_TIMEOUT_S:g} s")


def stop_server(process) -> None:
    """Stop a server cleanly (SIGTERM), killing it only if it will not go."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def log_tail(log_path: Path, lines: int = 10) -> str:
    """Return the last lines of a server log."""
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


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

"""A target's server process: start `racelab serve` on a free loopback port, wait, stop."""

import functools
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from racelab.exceptions import RunFailed
from racelab.process_exit import die_with_parent, finishing, raise_if_stopped

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


class TargetFailed(RunFailed):
    """A target could not be run: it did not start, or the load could not begin."""


def serve_command(
    spec: TargetSpec, data_dir: Path, settings: Settings, port=0, reset=True, extra=()
):
    """Return the `racelab serve` command line for a target (extra: more serve options)."""
    return [
        sys.executable, "-m", "racelab", "serve", spec.backend, "--strategy", spec.strategy,
        "--data-dir", str(data_dir), "--port", str(port), "--workers", str(spec.workers),
        "--threads", str(settings.threads), "--skus", str(settings.skus),
        "--stock", str(settings.stock), "--shifts", str(settings.shifts),
        "--doctors", str(settings.doctors), *(["--reset"] if reset else []),
        *(["--delay", f"{settings.delay[0]}-{settings.delay[1]}s"] if settings.delay else []),
        *extra,
    ]  # fmt: skip


def start_server(
    spec: TargetSpec,
    data_dir: Path,
    settings: Settings,
    log_path: Path,
    port: int = 0,
    reset: bool = True,
    extra=(),
):
    """Start `racelab serve` (port 0: a free loopback one); return (process, base URL).

    The server leads its own process group, so a fault can kill it with its workers, and
    it gets SIGTERM from the kernel if racelab dies without stopping it (even by SIGKILL).
    """
    offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "a") as log:
        process = spawn(
            serve_command(spec, data_dir, settings, port, reset, extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        url = _wait_for_url(process, log_path, offset)
        wait_for_health(url, process)
    except BaseException:  # it did not start, or a signal stops racelab while it starts
        stop_server(process)
        raise
    return process, url


def spawn(args, **popen) -> subprocess.Popen:
    """Start a child that gets SIGTERM from the kernel when racelab dies, even by SIGKILL.

    The kernel sends it when the starting *thread* ends, so a child asked for from any other
    thread (a `racelab ui` request, a kill fault's restart mid-load) is started by one
    thread that lives as long as racelab does.
    """
    start = functools.partial(subprocess.Popen, args, preexec_fn=functools.partial(
        die_with_parent, os.getpid()), **popen)  # fmt: skip
    if threading.current_thread() is threading.main_thread():
        return start()
    return _lifelong_thread().submit(start).result()


@functools.cache
def _lifelong_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="racelab-spawn")


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


def wait_for_health(url: str, process) -> None:
    """Wait until GET /health answers 200, or raise TargetFailed saying why not."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        raise_if_stopped()
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
    """Stop a server cleanly (SIGTERM to its process group), killing what will not go.

    The group, not the process alone: a server started through a wrapper (a launcher
    script, `npm start`) would leave its real server running on the port. Stopping twice
    is stopping once, and a second Ctrl-C waits until the group is gone.
    """
    if getattr(process, "racelab_stopped", False):
        return  # its group id may belong to another process group by now
    with finishing():
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _signal_group(process, signal.SIGKILL)  # whatever of the group outlived its leader
        process.racelab_stopped = True


def _signal_group(process, signum) -> None:
    """Signal the process group a server leads (start_new_session); else the process alone."""
    try:
        os.killpg(process.pid, signum)  # the group's id is its leader's pid
    except ProcessLookupError:  # no such group: it never led one, or all of it is gone
        if signum == signal.SIGTERM and process.poll() is None:
            process.send_signal(signum)
    except PermissionError:
        pass


def log_tail(log_path: Path, lines: int = 10) -> str:
    """Return the last lines of a server log."""
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"

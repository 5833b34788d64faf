"""Mount a folder through the FUSE layer in its own process, cut its power, unmount it."""

import contextlib
import ctypes.util
import importlib.util
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from racelab.exceptions import RunFailed
from racelab.interpose.holds import SECRET_ENV

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 30.0  # the write-back of a large store into the real folder
INSTALL = "install fuse3 (apt-get install fuse3) and mfusepy (pip install mfusepy)"


class MountFailed(RunFailed):
    """The FUSE layer could not be mounted, or did not answer."""


def fuse_problem() -> str | None:
    """Return one sentence saying what is missing for a FUSE mount, or None if nothing is."""
    if not sys.platform.startswith("linux"):
        return "the FUSE layer runs on Linux only"
    if not os.path.exists("/dev/fuse"):
        return f"no /dev/fuse (a container needs --device /dev/fuse): {INSTALL}"
    if shutil.which("fusermount3") is None:
        return f"fusermount3 is not installed: {INSTALL}"
    if ctypes.util.find_library("fuse3") is None:
        return f"libfuse3 is not installed: {INSTALL}"
    if importlib.util.find_spec("mfusepy") is None:
        return f"the mfusepy package is not installed: {INSTALL}"
    return None


def mounted(path: Path) -> bool:
    """Say whether path is a mount point, a dead FUSE one included (os.path.ismount says no)."""
    try:
        table = Path("/proc/self/mounts").read_text()
    except OSError:
        return os.path.ismount(path)
    escaped = str(path).replace("\\", "\\134").replace(" ", "\\040").replace("\n", "\\012")
    return any(line.split(" ")[1] == escaped for line in table.splitlines() if " " in line)


class Mount:
    """FOLDER served at a private mount point (`dir`) by `python -m racelab.interpose.fs`."""

    def __init__(self, folder: Path, log_path: Path | None = None, trace: Path | None = None,
                 hold: tuple[str, str] | None = None):  # fmt: skip
        """hold: a HoldChannel's (socket path, secret), asked before each file pause point."""
        # Absolute: libfuse may change the layer's working directory.
        self.folder, self.log_path, self.trace = Path(folder).resolve(), log_path, trace
        self.hold = hold
        self.dir = Path(tempfile.mkdtemp(prefix="racelab-mount-")).resolve()  # mode 0700
        self.process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()  # the layer's lines; None: it ended

    def __enter__(self) -> "Mount":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Mount the folder (again, after a power loss) and wait until it answers."""
        problem = fuse_problem()
        if problem:
            raise MountFailed(problem)
        trace = ["--trace", str(self.trace)] if self.trace else []
        env = os.environ.copy()
        if self.hold:
            trace += ["--hold", self.hold[0]]
            env[SECRET_ENV] = self.hold[1]
        log = open(self.log_path, "a") if self.log_path else None  # noqa: SIM115
        command = [sys.executable, "-m", "racelab.interpose.fs", str(self.folder), str(self.dir)]
        self.process = subprocess.Popen(
            [*command, *trace], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log or subprocess.DEVNULL,
            text=True, bufsize=1, start_new_session=True, env=env,
        )  # fmt: skip
        if log is not None:
            log.close()
        self._lines = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(self.process, self._lines))
        self._reader.start()
        if self._next_line(START_TIMEOUT_S) != "ready":
            self.stop()
            raise MountFailed(f"the FUSE layer did not mount {self.dir}")

    def power_loss(self) -> dict:
        """Drop every write and name not fsynced, unmount; return what was dropped."""
        self._send("power-loss")
        line = self._next_line(START_TIMEOUT_S) or ""
        self.stop()
        if not line.startswith("lost "):
            raise MountFailed("the FUSE layer did not answer the power loss")
        return json.loads(line.split(" ", 1)[1])

    def stop(self) -> None:
        """Unmount (keeping what was written); the folder then holds what the layer held."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            self._send("stop", process)
            process.wait(STOP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        finally:
            if mounted(self.dir):  # the layer died mounted: never leave it behind
                subprocess.run(["fusermount3", "-u", "-z", str(self.dir)], capture_output=True)
            self._reader.join()  # the pipe ends with the process
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    # A line still buffered for a layer that has ended cannot be flushed;
                    # the pipe is closed all the same (a fresh clone's CI saw it raise).
                    with contextlib.suppress(OSError):
                        pipe.close()

    def close(self) -> None:
        """Unmount and remove the mount point."""
        self.stop()
        if not mounted(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)

    def _send(self, command: str, process: subprocess.Popen[str] | None = None) -> None:
        process = process or self.process
        if process is None or process.stdin is None or process.poll() is not None:
            return
        try:
            process.stdin.write(command + "\n")
            process.stdin.flush()
        except (BrokenPipeError, ValueError):  # it is gone, or its stdin was closed already
            pass

    def _next_line(self, timeout: float) -> str | None:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return None

    @staticmethod
    def _read(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        for line in process.stdout or ():
            lines.put(line.strip())
        lines.put(None)

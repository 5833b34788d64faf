"""Faults as an experiment variable: kill the target mid-load (or cut its power) and restart it."""

import contextlib
import os
import random
import signal
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from msgspec import UNSET, UnsetType

from racelab.compare.launch import launch
from racelab.compare.process import TargetFailed
from racelab.compare.targets import TargetSpec
from racelab.interpose.mount import Mount, MountFailed
from shapes.reports import Fault

FIRST, LAST = 0.1, 0.8  # kills land in this part of the run, one per equal slot
PORT_WAIT_S = 20.0  # how long a restart waits for the killed server's port to be let go


def kill_times(seed: int, slug: str, kills: int, duration: float) -> list[float]:
    """Return seeded kill moments (seconds into the load), one in each of `kills` slots."""
    rng = random.Random(f"{seed}/{slug}/kill")
    slot = (LAST - FIRST) * duration / max(kills, 1)
    return [
        round(FIRST * duration + k * slot + rng.uniform(0.1, 0.9) * slot, 3) for k in range(kills)
    ]


def kill_group(process) -> None:
    """SIGKILL a server and its workers (it leads its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def wait_for_port(host: str, port: int, seconds: float = PORT_WAIT_S) -> None:
    """Wait until host:port can be listened on again, or seconds pass (launch says why).

    A killed worker inside a system call (an fsync under load) dies, and lets go of the
    listening socket it shares, only when the call returns: the restart would find the
    port still taken.
    """
    deadline = time.monotonic() + seconds
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.monotonic() < deadline:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            try:
                probe.bind((host, port))
                return
            except OSError:
                pass
        time.sleep(0.02)


class Killer:
    """During the load, kill the target at each moment and start it again on the same port."""

    def __init__(
        self,
        spec: TargetSpec,
        data_dir: Path,
        settings,
        log_path: Path,
        process,
        url: str,
        times: list[float],
    ):
        self.spec, self.data_dir, self.settings, self.log_path = spec, data_dir, settings, log_path
        self.process, self.times = process, times
        self.host, self.port = urlsplit(url).hostname or "127.0.0.1", int(url.rsplit(":", 1)[1])
        self.events: list[Fault] = []
        self.unmade: list[float] = []  # planned kills still to come when the load ended
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Start counting from now (the load's start)."""
        self._started = time.monotonic()
        self._thread.start()

    def finish(self):
        """Stop injecting; return the process now serving (or None if it is down)."""
        self._stop.set()
        self._thread.join()
        return self.process

    def outcome(self) -> tuple[list[Fault], list[float]]:
        """The kills made (and whether each target came back), and the planned ones not made."""
        return self.events, self.unmade

    def _run(self) -> None:
        for k, at in enumerate(self.times):
            # A kill due while a slow restart was still under way is made once it is back;
            # one still to come when the load ends is not made, and the report says so.
            if self._stop.wait(max(0.0, self._started + at - time.monotonic())):
                self.unmade = self.times[k:]
                return
            if self.process is None:
                continue  # an earlier restart failed: the target stays down
            at, lost = time.monotonic() - self._started, self._fault()
            event = self._restart(at)
            event.power_loss = lost
            self.events.append(event)

    def _fault(self) -> dict[str, int] | UnsetType:
        """Kill the target; return what else the fault lost (UNSET: nothing but the process)."""
        kill_group(self.process)
        return UNSET

    def _restart(self, at: float) -> Fault:
        killed = time.monotonic()
        wait_for_port(self.host, self.port)
        try:
            self.process, _ = launch(
                self.spec, self.data_dir, self.settings, self.log_path, port=self.port, reset=False
            )
        except TargetFailed as e:
            self.process = None
            return Fault(at_s=round(at, 3), restarted=False, error=str(e))
        return Fault(at_s=round(at, 3), restarted=True, down_s=round(time.monotonic() - killed, 3))


class PowerCut(Killer):
    """Kill the target and cut the power under its store, then remount it and restart it."""

    def __init__(self, layer: Mount, *args):
        super().__init__(*args)
        self.layer = layer
        self._failure: str | None = None

    def _fault(self) -> dict[str, int] | UnsetType:
        kill_group(self.process)
        try:
            lost = self.layer.power_loss()  # what no fsync had made durable is gone
            self.layer.start()  # the reboot: the same folder, as the power loss left it
        except MountFailed as e:
            self._failure = f"the FUSE layer failed: {e}"
            return UNSET
        return lost

    def _restart(self, at: float) -> Fault:
        if self._failure:  # no mount to start it on: it stays down
            self.process = None
            return Fault(at_s=round(at, 3), restarted=False, error=self._failure)
        return super()._restart(at)


class Direct:
    """The store's own folder, nothing in between (every fault but power-loss)."""

    def __init__(self, folder: Path):
        self.dir = folder

    def stop(self) -> None:
        """Nothing to unmount."""


@contextlib.contextmanager
def store_layer(spec, settings, data_dir: Path, log_path: Path):
    """Yield where the target keeps its store: data_dir, or a FUSE mount over it (power-loss)."""
    if settings.faults != "power-loss":
        yield Direct(data_dir)
        return
    if spec.backend == "postgres" or getattr(spec, "url", None):
        raise TargetFailed(
            f"--faults power-loss needs a store racelab keeps in files it mounts; {spec.name} "
            "is not one (postgres runs its server as another user, a url: target its own store)"
        )
    mount = Mount(data_dir, log_path)
    try:
        mount.start()
        yield mount
    except MountFailed as e:
        raise TargetFailed(f"the FUSE layer failed: {e}") from None
    finally:
        mount.close()

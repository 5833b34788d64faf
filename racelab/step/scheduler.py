"""The scheduler: the one place every paused request asks whether it may go on.

Servers started with `--step SOCKET --step-secret SECRET` connect here from each pause point
(from every worker process) and wait for a "go": the pause protocol of docs/contract.md,
on a Unix socket in a folder only this user can open, each line carrying this run's secret.
Every session is held at every point; only the schedule moves one, so an interleaving runs
the same way every time. A step S.P drives session S through any points the permutation
does not name until it reaches P, lets it do P, and waits until it reaches its next point
or finishes. A session that does not get there within BLOCK_WAIT_S is blocked (a lock makes
it wait): the schedule goes on without it, and its steps are taken as soon as it arrives,
as isolationtester prints `<waiting ...>`. A server that says so (a RACELAB-WAIT/1 notice,
sent just before it waits for a lock, until a RACELAB-FREE/1 notice lets that lock go) is
known blocked at once, without the block wait. After the last step each session in turn is
driven to its end.
"""

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping

from racelab.step.lanes import EveryPoint, Lane, StepLog, known, match_lock_waits, may_arrive
from racelab.step.wire import READ_TIMEOUT_S, Refused, answer, listen, read_pause

BLOCK_WAIT_S = 1.0
PROBE_EVERY_S = 0.02  # how often a lock probe is asked while a released session is unseen
REFUSALS_KEPT = 50  # a stranger's flood of bad lines leaves a bounded list
logger = logging.getLogger(__name__)


class Scheduler:
    """Hold sessions at their pause points and release them in a permutation's order."""

    def __init__(
        self,
        lanes: Mapping[str, list[str]],
        block_wait: float = BLOCK_WAIT_S,
        read_timeout: float = READ_TIMEOUT_S,
    ):
        self.block_wait = block_wait
        self.read_timeout = read_timeout
        self.refusals: list[str] = []  # why pauses were refused, the first REFUSALS_KEPT
        self.changed = threading.Condition()
        self.lock_probe: Callable[[], int] | None = None  # how many clients wait for a lock
        self.begin(lanes)
        self.secret = secrets.token_hex(16)
        self.listener, self.path = listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def begin(self, lanes: Mapping[str, list[str]]) -> None:
        """Take a new permutation's lanes: every session held at every point again."""
        with self.changed:
            self.lanes = {
                name: Lane(steps if isinstance(steps, EveryPoint) else list(steps))
                for name, steps in lanes.items()
            }
            self.log: list[StepLog] = []
            self.free_running = False
            self.current = "the start"  # the step being taken, for "<... completed>" notes

    # --- the servers' side ----------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._arrive, args=(conn,), daemon=True).start()

    def _arrive(self, conn: socket.socket) -> None:
        """Read one pause line and hold, release or refuse it."""
        try:
            pause = read_pause(conn, self.secret, self.read_timeout)
        except Refused as e:
            self._refuse(conn, str(e))
            return
        name, point, pid = pause.session, pause.point, pause.pid
        if pause.kind != "PAUSE":
            self._notice(conn, pause.kind, name, point)
            return
        with self.changed:
            lane = self.lanes.get(name)
            if lane is not None:
                lane.waiting = None
                lane.reached.append(point)
            if lane is None or self.free_running:
                _go(conn)
                return
            if lane.held is not None:  # the first stays held: only the schedule moves it
                self._refuse(conn, f"session {name} is already held at {lane.held.point}")
                return
            lane.pids.add(pid)
            if lane.pending and lane.pending[0] == point:
                lane.pending.pop(0)  # a blocked step, taken the moment it arrives
                lane.steps.remove(point)
                self._completed(name, point)
                _go(conn)
            elif lane.pending and point not in lane.steps:
                _go(conn)  # on its way to a blocked step, through points nobody named
            else:
                lane.hold(point, conn, pid)
            self.changed.notify_all()

    def _notice(self, conn: socket.socket, kind: str, name: str, lock: str) -> None:
        """Mark a session blocked the moment it says it waits for a lock, and its waiters
        movable the moment a lock is let go; answer at once."""
        with self.changed:
            lane = self.lanes.get(name)
            if kind == "WAIT" and lane is not None and not self.free_running:
                lane.waiting = lock
            elif kind == "FREE":
                for other in self.lanes.values():
                    if other.waiting == lock:
                        other.waiting = None
            self.changed.notify_all()
        _go(conn)

    def _refuse(self, conn: socket.socket, reason: str) -> None:
        """Answer "no REASON", close, and note why."""
        logger.warning("racelab step: refused a pause: %s", reason)
        if len(self.refusals) < REFUSALS_KEPT:
            self.refusals.append(reason)
        answer(conn, f"no {reason}")

    def _completed(self, name: str, point: str) -> None:
        """Note during which step a blocked step finally ran."""
        for entry in self.log:
            if entry.step == f"{name}.{point}" and entry.outcome == "blocked":
                if entry.completed_after is None:
                    entry.completed_after = self.current
                    return

    # --- the runner's side ----------------------------------------------------------------

    def wait_settled(self, limit: float) -> bool:
        """Wait until every session is held at a point, done, or waiting for a lock it said
        it waits for; False if the limit passed first."""
        with self.changed:
            return self._wait(lambda: all(map(known, self.lanes.values())), limit)

    def session_done(self, name: str) -> None:
        """Note that every request of a session has its answer."""
        with self.changed:
            self.lanes[name].done = True
            self.lanes[name].waiting = None
            self.changed.notify_all()

    def run(self, permutation: list[tuple[str, str]], limit: float) -> list[StepLog]:
        """Take the steps in order, then drive each session to its end in turn."""
        self.wait_settled(self.block_wait)  # a fair start: every session at its first point
        for name, point in permutation:
            self.current = f"{name}.{point}"
            self.log.append(self._take(name, point))
            self._settle()
        self.current = "the end"
        deadline = time.monotonic() + limit
        while not self._all_done() and time.monotonic() < deadline:
            for name in self.lanes:
                self._drive_to_end(name)
        self.release_all()
        return self.log

    def _take(self, name: str, point: str) -> StepLog:
        step = f"{name}.{point}"
        lane = self.lanes[name]
        with self.changed:
            while True:
                self._wait(lambda: known(lane), self.block_wait)
                if lane.done:
                    return StepLog(step, "skipped")
                if lane.held is None:
                    lane.pending.append(point)  # blocked: taken the moment it arrives
                    return StepLog(step, "blocked")
                if lane.held.point == point:
                    break
                if lane.held.point in lane.steps:  # held at another named step: out of order
                    return StepLog(step, "not reached")
                self._release(lane)  # a point the permutation does not name
            lane.steps.remove(point)
            self._release(lane)
            arrived = self._pass_unnamed(lane)
        return StepLog(step, "ran" if arrived else "waiting")

    def _pass_unnamed(self, lane: Lane) -> bool:
        """Drive a released session through points the permutation does not name, until it
        reaches one it does, or finishes; False if it blocked on the way (or said it waits)."""
        while True:
            self._wait(lambda: known(lane), self.block_wait)
            if lane.held is None or lane.done:
                return lane.done
            if lane.held.point in lane.steps:
                return True
            self._release(lane)

    def step(self, name: str) -> StepLog:
        """Take the next step of one session, wherever it is held (interactive use)."""
        lane = self.lanes[name]
        with self.changed:
            self._wait(lambda: known(lane), self.block_wait)
            point = lane.held.point if lane.held is not None else None
        if point is None:
            return StepLog(f"{name}.?", "skipped" if lane.done else "blocked")
        self.current = f"{name}.{point}"
        log = self._take(name, point)
        self.log.append(log)
        self._settle()
        return log

    def where(self, name: str) -> str:
        """Say where a session is: at which point, blocked, or done."""
        lane = self.lanes[name]
        with self.changed:
            if lane.done:
                return "done"
            if lane.held is not None:
                return f"at {lane.held.point}"
            return f"waiting for its {lane.waiting}" if lane.waiting else "running or blocked"

    def _settle(self) -> None:
        """Give blocked sessions the step just taken may have freed time to arrive, so a
        `<... completed>` note names the step that freed them, every time."""
        with self.changed:
            self._wait(
                lambda: not any(map(may_arrive, self.lanes.values())),
                self.block_wait,
            )

    def _drive_to_end(self, name: str) -> None:
        """Release one session point after point until it finishes or blocks."""
        lane = self.lanes[name]
        with self.changed:
            while not lane.done:
                self._wait(lambda: known(lane), self.block_wait)
                if lane.held is None:
                    return  # blocked: another session must move first
                self._release(lane)

    def watch_locks(self, probe: Callable[[], int]) -> None:
        """Ask probe() (how many of the target's clients wait for a lock) whenever a
        released session is not seen, to know a session waits where no notice comes from."""
        self.lock_probe = probe

    def _wait(self, predicate: Callable[[], bool], limit: float) -> bool:
        """Wait (holding self.changed) until predicate holds or limit passes, asking the
        lock probe, if there is one, first and between short slices."""
        if self.lock_probe is None:
            return self.changed.wait_for(predicate, limit)
        deadline = time.monotonic() + limit
        while True:
            self._probe_locks()
            left = deadline - time.monotonic()
            if self.changed.wait_for(predicate, max(0.0, min(PROBE_EVERY_S, left))):
                return True
            if left <= PROBE_EVERY_S:
                return False

    def _probe_locks(self) -> None:
        """Ask the lock probe how many clients wait for a lock, and mark sessions by it."""
        if self.lock_probe is None:
            return
        try:
            waits = self.lock_probe()
        except Exception:  # the server went away: go on without the probe
            logger.warning("racelab step: the lock probe failed; blocked steps take the block wait")
            self.lock_probe = None
            return
        match_lock_waits(self.lanes.values(), waits)

    def _release(self, lane: Lane) -> None:
        assert lane.held is not None, "only a held session is released"
        _go(lane.held.conn)
        lane.held = None
        lane.waiting = None

    def _all_done(self) -> bool:
        with self.changed:
            return all(lane.done for lane in self.lanes.values())

    def release_all(self) -> None:
        """Let every held session go, and every later arrival pass straight through."""
        with self.changed:
            self.free_running = True
            for lane in self.lanes.values():
                if lane.held is not None:
                    _go(lane.held.conn)
                    lane.held = None
            self.changed.notify_all()

    def wait_done(self, limit: float) -> bool:
        """Wait until every session is done; False if the limit passed first."""
        deadline = time.monotonic() + limit
        with self.changed:
            return self.changed.wait_for(
                lambda: all(lane.done for lane in self.lanes.values()),
                max(0.0, deadline - time.monotonic()),
            )

    def close(self) -> None:
        """Stop listening; release anything still held; remove the socket and its folder."""
        self.release_all()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(os.path.dirname(self.path))


def _go(conn: socket.socket) -> None:
    answer(conn, "go")

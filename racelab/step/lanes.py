"""What the scheduler knows of each session: its lane, the log of its steps, and the rules
by which a session counts as settled (held, done, or waiting for a lock)."""

import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

ROW_LOCK = "row lock"  # what a session the lock probe found waiting waits for


class EveryPoint(list[str]):
    """The steps of an interactive session: every point it reaches is one."""

    def __contains__(self, point: object) -> bool:
        return True

    def remove(self, point: str) -> None:
        """Take nothing away: the next point is a step too."""


class Held(NamedTuple):
    """Where a session waits: the point, the pause's connection (answered to release it),
    and the server process that sent it."""

    point: str
    conn: socket.socket
    pid: int


@dataclass
class Lane:
    """What one session is doing: where it is held, what steps it still has, if it is done."""

    steps: list[str]  # its points still to be released by the schedule, in order
    held: Held | None = None  # while it waits at a point
    pending: list[str] = field(default_factory=list)  # blocked steps, taken when it arrives
    done: bool = False  # every request of the session has its answer
    pids: set[int] = field(default_factory=set)  # the server processes it paused in
    reached: list[str] = field(default_factory=list)  # every point it arrived at, in order
    waiting: str | None = None  # the lock it said it waits for, until someone frees it

    def hold(self, point: str, conn: socket.socket, pid: int) -> None:
        """Keep a session's pause at point unanswered until the schedule releases it."""
        self.held = Held(point, conn, pid)


@dataclass
class StepLog:
    """What happened to one step of the schedule."""

    step: str
    outcome: str  # "ran", "waiting" (released, then blocked), "blocked", "skipped"
    completed_after: str | None = None  # for a blocked step: the step after which it ran


def known(lane: Lane) -> bool:
    """Say whether a session's state is settled: held at a point, done, or waiting for a
    lock it said it waits for."""
    return lane.held is not None or lane.done or lane.waiting is not None


def may_arrive(lane: Lane) -> bool:
    """Say whether a session with blocked steps may still arrive at one of them: it is
    neither done nor waiting for a lock it said it waits for."""
    return bool(lane.pending) and not lane.done and lane.waiting is None


def match_lock_waits(lanes: Iterable[Lane], waits: int) -> None:
    """Match a lock probe's count of waits to the sessions: a new wait belongs to the one
    session running, if exactly one is; fewer waits than marked, and every mark goes (each
    session is then seen again, or found again)."""
    lanes = list(lanes)
    marked = [lane for lane in lanes if lane.waiting == ROW_LOCK]
    if waits < len(marked):
        for lane in marked:
            lane.waiting = None
        marked = []
    running = [lane for lane in lanes if not known(lane)]
    if waits > len(marked) and len(running) == 1:
        running[0].waiting = ROW_LOCK

"""Pause points: named places in a strategy's write path where a stepped request waits.

Off unless `racelab serve --step SOCKET --step-secret SECRET` names a scheduler, and free
when off: a pause point is one look at its app's settings. Each app keeps its own (set for
each of its requests, and while its store opens), so two apps in one process never change
each other's. When on, a request that names its session (the header X-Racelab-Session)
asks the scheduler at each point whether it may go on, by the pause protocol
(docs/contract.md: one line on a Unix socket, answered "go"), so one scheduler orders the
requests of every gunicorn worker process. Requests without the header never pause.
"""

import contextlib
import contextvars
import os
import random
import re
import socket
import sys
import time
from dataclasses import dataclass

SESSION_HEADER = "X-Racelab-Session"
WORKER_HEADER = "X-Racelab-Worker"
COMMON_POINTS = ("read", "write")  # every strategy has these, so one spec runs on all
# However long a schedule holds a request, a server never hangs for good on a lost scheduler.
PAUSE_LIMIT_S = 120.0

PROTOCOL = "RACELAB-PAUSE/1"
# Notices, answered at once: "I am about to wait for a lock", "I have just let a lock go".
WAIT_PROTOCOL, FREE_PROTOCOL = "RACELAB-WAIT/1", "RACELAB-FREE/1"
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,128}")
ANSWER_LIMIT = 512  # bytes of the scheduler's answer read, at most

# A fault's injected delay is taken at the write point by one write in SLOW_SHARE: a slow
# write, in the window between deciding and writing, is what makes a client time out and
# resend while its first attempt is still undecided. Only some writes stall, as a slow
# disk's do, so a strategy that holds a lock there still serves the rest.
SLOW_SHARE = 0.1


@dataclass(frozen=True)
class Stepping:
    """One app's pause points: the scheduler they ask, and a fault's write delay."""

    scheduler: tuple[str, str] | None = None  # (socket path, secret)
    delay: tuple[float, float] | None = None  # (low, high) seconds


session = contextvars.ContextVar("racelab_session", default=None)
# The settings of the app whose request (or store opening) runs here; None: all off.
current: contextvars.ContextVar[Stepping | None] = contextvars.ContextVar(
    "racelab_stepping", default=None
)


def settings(scheduler, delay) -> Stepping | None:
    """Return an app's settings from its config (scheduler, delay), or None when both are off."""
    scheduler = (scheduler[0], scheduler[1]) if scheduler else None
    delay = delay if delay and delay[1] > 0 else None
    return Stepping(scheduler, delay) if scheduler or delay else None


@contextlib.contextmanager
def applied(app_settings: Stepping | None):
    """Run the block under an app's settings (its store's opening reads wait_limit)."""
    token = current.set(app_settings)
    try:
        yield
    finally:
        current.reset(token)


def _scheduler() -> tuple[str, str] | None:
    """Return the scheduler of the app this runs for, or None."""
    app_settings = current.get()
    return app_settings.scheduler if app_settings is not None else None


def wait_limit(normal: float) -> float:
    """Return how long a lock may be waited for: longer when a schedule may hold its holder."""
    return PAUSE_LIMIT_S if _scheduler() is not None else normal


def pause(point: str) -> None:
    """Wait at a pause point until the scheduler lets this request's session go on (and at
    the write point, for as long as a fault's delay says)."""
    app_settings = current.get()
    if app_settings is None:
        return
    delay = app_settings.delay
    if delay is not None and point == "write" and random.random() < SLOW_SHARE:
        time.sleep(random.uniform(*delay))
    name = session.get()
    if app_settings.scheduler is None or name is None:
        return
    reply = ask(app_settings.scheduler, name, point)
    if reply.startswith("no "):  # refused: said in the server's log, then on unscheduled
        print(f"racelab serve: the scheduler refused {point} of {name!r}: {reply[3:]}",
              file=sys.stderr, flush=True)  # fmt: skip


def waiting(lock: str) -> None:
    """Tell the scheduler this request is about to wait for a lock another request holds,
    so a schedule shows it waiting at once instead of after its block wait."""
    _notice(WAIT_PROTOCOL, lock)


def freed(lock: str) -> None:
    """Tell the scheduler this request has just let a lock go: its waiters may move."""
    _notice(FREE_PROTOCOL, lock)


def _notice(protocol: str, lock: str) -> None:
    scheduler, name = _scheduler(), session.get()
    if scheduler is not None and name is not None:
        ask(scheduler, name, lock, protocol)


def acquire(lock, timeout_s: float = -1) -> bool:
    """Take a thread lock (within timeout_s), telling a scheduler first if it must wait."""
    if lock.acquire(blocking=False):
        return True
    waiting("lock")
    return lock.acquire(timeout=timeout_s)


def release(lock) -> None:
    """Let a thread lock go, and tell a scheduler so."""
    lock.release()
    freed("lock")


@contextlib.contextmanager
def locked(lock):
    """Hold a thread lock, telling a scheduler when this request waits for it and lets it go."""
    acquire(lock)
    try:
        yield
    finally:
        release(lock)


def ask(scheduler: tuple[str, str], name: str, point: str, protocol: str = PROTOCOL) -> str:
    """Send one pause (or notice) line; return the answer line ("go", "no REASON"; "" if none
    came)."""
    path, secret = scheduler
    line = f"{protocol} {secret} {name} {point} {os.getpid()}\n"
    reply = b""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(PAUSE_LIMIT_S)
            conn.connect(path)
            conn.sendall(line.encode())
            while b"\n" not in reply and len(reply) < ANSWER_LIMIT:
                chunk = conn.recv(ANSWER_LIMIT - len(reply))
                if not chunk:
                    break
                reply += chunk
    except OSError:
        pass  # no scheduler, or it went away: the request goes on unscheduled
    return reply.decode(errors="replace").partition("\n")[0]

"""Which stepped session sent a SQL statement, and the pause each attributed one takes.

The rule (docs/contract.md, "SQL interposition"): the runner releases one session at a
time, so a statement arriving on a connection outside a transaction belongs to the one
session running then; a connection inside a transaction keeps the session that began it
until the server says it is idle again. When two or more sessions are running the
statement is `Unattributed` — reported, never guessed. A connection is not bound for
good: a pool hands one connection to many requests in turn, between transactions.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple


class Unattributed(NamedTuple):
    """A statement that any of several running sessions could have sent."""

    running: tuple[str, ...]


@dataclass
class Event:
    """One statement the proxy saw, whose it was, and whether the server has answered it."""

    conn_id: int | None  # None: a file operation
    session: str | None | Unattributed  # None: no session was running (not a stepped request)
    keyword: str
    sql: str  # a file operation's op and path
    done: bool = False
    released: int | None = None  # its place in the order events went on (None: still held)


class Attribution:
    """The sessions running now, and the session each connection's transaction belongs to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._held: dict[int, str] = {}  # conn_id -> session, while in a transaction

    def running(self, session: str) -> None:
        """Say that session is running: its request was sent, or a pause released it."""
        with self._lock:
            self._running.add(session)

    def stopped(self, session: str) -> None:
        """Say that session is not running: it is held at a point, or its request ended."""
        with self._lock:
            self._running.discard(session)

    def attribute(self, conn_id: int | None) -> str | None | Unattributed:
        """Return the session a statement on conn_id belongs to, None, or Unattributed; with
        conn_id None (a file operation) only the one session running counts, and nothing is
        bound."""
        with self._lock:
            if conn_id in self._held:
                return self._held[conn_id]
            if len(self._running) == 1:
                session = next(iter(self._running))
                if conn_id is not None:
                    self._held[conn_id] = session
                return session
            if not self._running:
                return None
            return Unattributed(tuple(sorted(self._running)))

    def forget_running(self) -> None:
        """Start a new permutation: no session is running."""
        with self._lock:
            self._running.clear()

    def ready(self, conn_id: int, status: str) -> None:
        """Note the server's transaction status after a statement: idle frees the connection."""
        if status == "I":
            with self._lock:
                self._held.pop(conn_id, None)


class PauseAdapter:
    """Turn each attributed statement into `pause(session, keyword)`; record every one."""

    def __init__(self, pause: Callable[[str, str], None], attribution: Attribution) -> None:
        self.pause = pause
        self.attribution = attribution
        self.events: list[Event] = []  # in the order they arrived
        self._lock = threading.Lock()
        self._went_on = 0

    def on_statement(self, conn_id: int | None, keyword: str, sql: str) -> Event:
        """The proxy's hook: hold a stepped session's statement until the scheduler says go;
        return its event."""
        session = self.attribution.attribute(conn_id)
        event = Event(conn_id, session, keyword, sql)
        with self._lock:
            self.events.append(event)
        try:
            if isinstance(session, str):  # else not stepped, or unattributed: events says so
                self.attribution.stopped(session)
                try:
                    self.pause(session, keyword)
                finally:
                    self.attribution.running(session)
        finally:
            self._went_on_now(event)
        return event

    def _went_on_now(self, event: Event) -> None:
        with self._lock:
            self._went_on += 1
            event.released = self._went_on

    def in_order_run(self, start: int = 0) -> list[Event]:
        """Return the events from the start'th on in the order they went on to the server,
        those still held last."""
        with self._lock:
            events = self.events[start:]
        return sorted(events, key=lambda e: (e.released is None, e.released or 0))

    def on_done(self, conn_id: int, status: str) -> None:
        """The proxy's hook: the connection's statement ended, in transaction status."""
        self.attribution.ready(conn_id, status)
        with self._lock:
            for event in reversed(self.events):
                if event.conn_id == conn_id:
                    event.done = True
                    break

    def unattributed(self) -> list[Event]:
        """Return the statements no single session could be named for."""
        with self._lock:
            return [e for e in self.events if isinstance(e.session, Unattributed)]

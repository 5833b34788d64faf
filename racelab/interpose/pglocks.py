"""Tell the scheduler at once when a released statement waits for a lock inside PostgreSQL.

Without this a statement released into a row lock is shown `<waiting ...>` only after the
block wait. The proxy knows which server process serves each connection (its
BackendKeyData), and racelab's own connection asks pg_stat_activity, every POLL_S while a
stepped session's released statement runs, whether that process waits for a Lock. When
it does, a RACELAB-WAIT/1 notice goes to the scheduler for that session; when a stepped
connection is idle again (its transaction, and the locks it held, ended) while one waits,
a RACELAB-FREE/1 notice lets the waiters move. Both are the pause protocol's optional
notices (docs/contract.md): a machine too slow to poll in time loses only the block wait.
"""

import threading
import time
from collections.abc import Callable

from racelab.interpose.pgattribution import Event

APPLICATION = "racelab-lock-watch"  # so a reset, cutting the server's connections, spares it
LOCK = "row-lock"  # the one name every notice uses: any transaction's end may free a waiter
POLL_S = 0.02
WATCH_LIMIT_S = 120.0  # as long as a pause may hold a statement, then it is let be


class LockWatch:
    """Watch released statements for lock waits; say so through notify(kind, session)."""

    def __init__(self, conninfo: str, notify: Callable[[str, str], None]) -> None:
        import psycopg

        self.notify = notify
        self._db = psycopg.connect(
            conninfo, autocommit=True, application_name=APPLICATION,
            options="-c statement_timeout=5s",  # a poll never hangs a watcher for long
        )  # fmt: skip
        self._db_lock = threading.Lock()
        self._waiting: set[str] = set()  # sessions said to wait, not yet freed
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def watch(self, session: str, event: Event, backend_pid: int) -> None:
        """Watch one session's released statement until the server has answered it."""
        args = (session, event, backend_pid)
        threading.Thread(target=self._watch, args=args, daemon=True).start()

    def _watch(self, session: str, event: Event, backend_pid: int) -> None:
        deadline = time.monotonic() + WATCH_LIMIT_S
        while not self._stopped.wait(POLL_S) and time.monotonic() < deadline:
            if event.done:
                return
            with self._lock:
                said = session in self._waiting
            if not said and self._waits_for_lock(backend_pid):  # again, after a free
                with self._lock:
                    self._waiting.add(session)
                self.notify("WAIT", session)

    def _waits_for_lock(self, backend_pid: int) -> bool:
        """Say whether a server process waits for a heavyweight lock (a row's, a table's)."""
        sql = "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s"
        try:
            with self._db_lock:
                row = self._db.execute(sql, (backend_pid,)).fetchone()
        except Exception:  # closed under us, or the server gone: nothing more to say
            return False
        return bool(row and row[0])

    def idle(self) -> None:
        """Note that a stepped connection is idle again: free the waiters, if any."""
        with self._lock:
            waiting, self._waiting = self._waiting, set()
        if waiting:
            self.notify("FREE", min(waiting))

    def close(self) -> None:
        """Stop watching and close racelab's connection."""
        self._stopped.set()
        with self._db_lock:
            self._db.close()

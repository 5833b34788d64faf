"""SQLite's own integrity check of store.db, run apart from the read where a core is idle.

PRAGMA integrity_check reads every page again, with the GIL let go: it runs in a thread
while polars reads the history and the store's orders are read (checker/report.py). Its
outcome is the one the read in checker/stores.py would have had with the check inline.
"""

import contextlib
import sqlite3
import threading


def connect_read_only(path) -> sqlite3.Connection:
    """Open store.db read-only (a checker never writes a store)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def unreadable_sqlite(error: sqlite3.Error) -> str:
    """Say why store.db could not be read."""
    return f"cannot be read as a racelab store ({error})"


def verdict_of(db) -> str | None:
    """Return what integrity_check finds wrong, or None when it says ok."""
    verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
    return None if verdict == "ok" else f"PRAGMA integrity_check: {verdict}"


class IntegrityCheck:
    """integrity_check on store.db in a thread: start() it, then apply() its outcome."""

    def __init__(self, path):
        self.path, self.verdict, self.error = path, None, None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Start the check (at most once)."""
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()

    def _run(self) -> None:
        try:
            with contextlib.closing(connect_read_only(self.path)) as db:
                self.verdict = verdict_of(db)
        except sqlite3.Error as e:
            self.error = e

    def applied(self, snapshot):
        """Wait for the check (run here if never started); return snapshot as read_sqlite
        would have returned it with the check run first, inline.
        """
        self.start()
        self._thread.join()
        if self.error is not None:  # inline, the check's error would have ended the read
            return type(snapshot)(snapshot.path, "sqlite", corruption=unreadable_sqlite(self.error))
        snapshot.corruption = self.verdict or snapshot.corruption
        return snapshot

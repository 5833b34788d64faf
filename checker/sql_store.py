"""Read a SQL store by the contract's table formats: store.db, or PostgreSQL's tables.

store.db is opened read-only; SQLite's own integrity check (PRAGMA integrity_check) reads
every page again with the GIL let go, so checker/report.py runs it in a thread
(IntegrityCheck) while polars reads the history and the store's orders are read, with the
outcome the read would have had with the check inline.

A PostgreSQL store has store.db's schema: items(sku, stock) and orders(id, sku, qty,
token, created_at). The checker reads it with plain psycopg, never through the servers'
code, found by URL or from a private server's folder; a private server that has stopped is
started for the read and stopped again.
"""

import contextlib
import sqlite3
import threading
from pathlib import Path

import pgcluster
from checker.oncall import read_sql_shifts
from checker.orders import Orders, Snapshot, is_int
from shapes import ORDER_FIELDS, ORDER_KINDS, ROW_FIELDS, is_order_row

URL_PREFIXES = ("postgresql://", "postgres://")
PRIVATE_DIR = "pgdata"  # what `racelab serve postgres` makes in its data dir
CONNINFO_FILE = "database.url"  # where it wrote the database it used
CONNECT_TIMEOUT_S = 10


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


def read_sqlite(path, integrity: bool = True) -> Snapshot:
    """Read store.db read-only: integrity check (unless integrity is False), items, orders."""
    snapshot = Snapshot(str(path), backend="sqlite")
    try:
        with contextlib.closing(connect_read_only(path)) as db:
            if integrity:
                snapshot.corruption = verdict_of(db)
            read_sqlite_tables(snapshot, db)
    except sqlite3.Error as e:
        snapshot.corruption = snapshot.corruption or unreadable_sqlite(e)
    return snapshot


# What makes a row a well-formed order, asked of SQLite itself: a million rows are then
# split in C, not checked field by field in Python (4.7 s to 0.9 s at 1M).
SQLITE_TYPES = {int: "integer", str: "text"}
WELL_TYPED = " AND ".join(f"typeof({name}) = '{SQLITE_TYPES[kind]}'" for name, kind in ORDER_KINDS)
COLUMNS, ROW_COLUMNS = ", ".join(ORDER_FIELDS), ", ".join(ROW_FIELDS)


def read_sqlite_tables(snapshot: Snapshot, db) -> None:
    """Read items and orders, well-formed ones split from the rest by SQLite."""
    try:
        orders = Orders.joined(db, WELL_TYPED)
        if orders is None:  # a newline in a sku or token: row by row
            query = f"SELECT {ROW_COLUMNS} FROM orders WHERE {WELL_TYPED}"
            orders = Orders.fetched(db.execute(query))
        malformed = []
        # Counting the rows costs a fiftieth of scanning them again for ill-typed ones.
        if db.execute("SELECT count(*) FROM orders").fetchone()[0] != len(orders):
            query = f"SELECT {COLUMNS} FROM orders WHERE NOT ({WELL_TYPED})"
            malformed = [dict(zip(ORDER_FIELDS, row, strict=True)) for row in db.execute(query)]
    except sqlite3.Error:  # a row that cannot be read: row by row keeps every one before it
        read_tables(snapshot, db)
        return
    read_items(snapshot, db)
    snapshot.orders, snapshot.malformed = orders, malformed


def read_items(snapshot: Snapshot, db) -> None:
    """Read the items table (and the rota's, where there is one) into snapshot."""
    snapshot.shifts = read_sql_shifts(db)
    rows = db.execute("SELECT sku, stock FROM items").fetchall()
    if all(isinstance(sku, str) and is_int(stock) for sku, stock in rows):
        snapshot.items = dict(rows)
    else:
        snapshot.corruption = "items holds an ill-typed row"


def read_tables(snapshot: Snapshot, db) -> None:
    """Read items and orders row by row, keeping every row before one that cannot be read."""
    found: list = []
    try:
        _read_rows(snapshot, found, db)
    finally:  # every row before one that could not be read is kept
        snapshot.orders = Orders.from_tuples(found)


def _read_rows(snapshot: Snapshot, found: list, db) -> None:
    read_items(snapshot, db)
    cursor = db.execute(f"SELECT {COLUMNS} FROM orders")
    for row in cursor:
        if is_order_row(row):
            found.append(row[: len(ROW_FIELDS)])
        else:
            snapshot.malformed.append(dict(zip(ORDER_FIELDS, row, strict=True)))


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


def is_postgres_store(location) -> bool:
    """Say whether location names a PostgreSQL store: a URL, a data dir or a cluster folder."""
    if isinstance(location, str) and location.startswith(URL_PREFIXES):
        return True
    path = Path(location)
    return path.is_dir() and any(
        p.is_file()
        for p in (path / "PG_VERSION", path / PRIVATE_DIR / "PG_VERSION", path / CONNINFO_FILE)
    )


def read_postgres(location, snapshot: Snapshot) -> None:
    """Fill snapshot from the PostgreSQL store at location, by the contract's tables."""
    # Imported here: psycopg takes a fifth of a second to import, and most checks read a file.
    import psycopg  # noqa: PLC0415

    try:
        if isinstance(location, str) and location.startswith(URL_PREFIXES):
            _read(location, snapshot)
            return
        path = Path(location)
        cluster = path if (path / "PG_VERSION").is_file() else path / PRIVATE_DIR
        if (cluster / "PG_VERSION").is_file():
            with pgcluster.attached(cluster) as conninfo:
                _read(conninfo, snapshot)
            return
        _read((path / CONNINFO_FILE).read_text().strip(), snapshot)
    except pgcluster.ClusterError as e:
        snapshot.unreadable = f"its PostgreSQL server could not be started: {e}"
    except psycopg.Error as e:
        snapshot.unreadable = f"cannot be read as a racelab PostgreSQL store ({_first_line(e)})"
    except OSError as e:
        snapshot.unreadable = f"cannot be read: {e}"


def _read(conninfo: str, snapshot: Snapshot) -> None:
    # One REPEATABLE READ transaction: items and orders from the same snapshot, even if
    # a server is still writing.
    import psycopg  # noqa: PLC0415

    with psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S) as db:
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        read_tables(snapshot, db)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

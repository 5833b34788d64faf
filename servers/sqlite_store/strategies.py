"""SQLite strategies: the read-then-write habit, and a transaction that holds."""

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, exc, text

from servers.errors import Busy, NotFound, OutOfStock, StoreUnreadable, UnknownSku
from servers.oncall import DOCTORS_DEFAULT, SHIFTS_DEFAULT
from servers.sql import ORDER_COLUMNS, SqlReads, read_then_write_cancel, read_then_write_create
from servers.sqlite_store import oncall
from servers.sqlite_store.oncall import NaiveSqliteOnCall, TransactionalSqliteOnCall
from servers.stepping import pause, wait_limit
from servers.storage import Store, seed_items, utc_now
from servers.writer_queue import WriterQueue

# store.db's schemas: a beginner's, and one with the constraints that make it safe.
# AUTOINCREMENT in both: an id is never handed out twice, even after a cancel deletes
# the highest one, so the checker can treat any reused id as an anomaly.
NAIVE_SCHEMA = (
    "CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT, qty INTEGER,"
    " token TEXT, created_at TEXT)",
)
TRANSACTIONAL_SCHEMA = (
    "CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER NOT NULL CHECK (stock >= 0))",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " sku TEXT NOT NULL REFERENCES items(sku), qty INTEGER NOT NULL,"
    " token TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)",
)
BUSY_TIMEOUT_S = 2.0
NAIVE_LOCK_WAIT_S = 5.0  # Python's sqlite3 default timeout, which naive keeps
# One persistent connection per serving thread; a thread-per-request server may run
# dozens at once, and SQLAlchemy's default pool of 5+10 would make them queue.
POOL = {"pool_size": 32, "max_overflow": 96, "pool_timeout": 10}
# The transactional writes, as plain SQL for exec_driver_sql: inside the one serialized
# section, SQLAlchemy's statement compilation cost 190 us a create; this path 125 us.
TX = {
    "by_token": f"SELECT {ORDER_COLUMNS} FROM orders WHERE token = ? LIMIT 1",
    "by_id": f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?",
    "take": "UPDATE items SET stock = stock - ? WHERE sku = ? AND stock >= ?",
    "give_back": "UPDATE items SET stock = stock + ? WHERE sku = ?",
    "stock": "SELECT stock FROM items WHERE sku = ?",
    "insert": "INSERT INTO orders (sku, qty, token, created_at) VALUES (?, ?, ?, ?)",
    "delete": "DELETE FROM orders WHERE id = ?",
}


def _locked(error: exc.OperationalError) -> bool:
    """Say whether SQLite gave up waiting for a lock (rather than failing otherwise)."""
    return "locked" in str(error.orig) or "busy" in str(error.orig)


def _remove_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()


def _check_readable(path: Path) -> None:
    """Raise StoreUnreadable unless path is a SQLite store with both tables."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            db.execute("SELECT sku, stock FROM items LIMIT 1").fetchall()
            db.execute(f"SELECT {ORDER_COLUMNS} FROM orders LIMIT 1").fetchall()
    except sqlite3.Error as e:
        raise StoreUnreadable(f"not a racelab SQLite store ({e})") from None


class SqliteStore(SqlReads, Store):
    """Shared reads and set-up; strategies differ in schema, connection and writes."""

    filename = "store.db"
    schema: tuple[str, ...] = ()
    setup_pragmas: tuple[str, ...] = ()

    @classmethod
    def initialize(cls, data_dir, reset: bool, skus: int, stock: int, shifts: int = SHIFTS_DEFAULT,
                   doctors: int = DOCTORS_DEFAULT) -> None:  # fmt: skip
        """Create and seed store.db if missing or reset; refuse an unreadable one."""
        path = Path(data_dir) / cls.filename
        if path.exists() and not reset:
            _check_readable(path)
            return
        _remove_files(path)
        with contextlib.closing(sqlite3.connect(path)) as db:
            for pragma in cls.setup_pragmas:
                db.execute(pragma)
            for statement in (*cls.schema, *oncall.SCHEMA):
                db.execute(statement)
            db.executemany("INSERT INTO items VALUES (?, ?)", seed_items(skus, stock).items())
            oncall.seed(db, shifts, doctors)
            db.commit()

    @classmethod
    def reseed(cls, data_dir, skus: int, stock: int, shifts: int = SHIFTS_DEFAULT,
               doctors: int = DOCTORS_DEFAULT) -> None:  # fmt: skip
        """Empty every table and seed them again in the same file, ids from 1 again."""
        path = Path(data_dir) / cls.filename
        with contextlib.closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)) as db, db:
            for table in ("orders", "items", "sqlite_sequence", *oncall.TABLES):
                db.execute(f"DELETE FROM {table}")
            db.executemany("INSERT INTO items VALUES (?, ?)", seed_items(skus, stock).items())
            oncall.seed(db, shifts, doctors)

    def __init__(self, data_dir):
        super().__init__(data_dir)
        self.engine = self._make_engine()

    def _make_engine(self):
        return create_engine(f"sqlite:///{self.path}", **POOL)

    def items(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT sku, stock FROM items ORDER BY rowid"))
            return {sku: stock for sku, stock in rows}


class NaiveSqliteStore(NaiveSqliteOnCall, SqliteStore):
    """Read, decide in Python, write back: each step its own transaction.

    The habit carried over from the JSON file. A real database does not help: two
    requests read stock 10, both write 9 (a lost update), and two requests with one
    token both find it missing and both insert it (no unique constraint stops them).
    """

    schema = NAIVE_SCHEMA

    def _statement_runner(self) -> Callable[..., Any]:
        """Return run(statement, params) for one request: each statement in its own
        transaction, as the JSON file's read-modify-write (servers/sql.py has the steps).

        A lock that outlasts the wait answers 503 busy while nothing is written yet; after
        the first write it is a 500, because 503 promises that nothing happened.
        """
        wrote: list = []

        def run(statement, params):
            try:
                with self.engine.begin() as conn:
                    result = conn.execute(statement, params)
                    # SQLite runs an INSERT ... RETURNING to its end as its rows are read:
                    # read them before the commit.
                    rows = result.freeze() if result.returns_rows else None
            except exc.OperationalError as e:
                if not wrote and _locked(e):
                    raise Busy(f"The database was locked for {NAIVE_LOCK_WAIT_S:g} s.") from None
                raise
            if not str(statement).startswith("SELECT"):
                wrote.append(statement)
            return result if rows is None else rows()

        return run

    def create_order(self, sku: str, qty: int, token: str) -> tuple[dict, bool]:
        return read_then_write_create(self._statement_runner(), sku, qty, token)

    def cancel_order(self, order_id: int) -> None:
        read_then_write_cancel(self._statement_runner(), order_id)


class TransactionalSqliteStore(TransactionalSqliteOnCall, SqliteStore):
    """One BEGIN IMMEDIATE transaction per write, a conditional update, a unique token.

    WAL lets readers run beside the single writer; busy_timeout bounds the wait for the
    write lock, and a write that cannot get it answers 503 busy: it did not happen.
    """

    schema = TRANSACTIONAL_SCHEMA
    setup_pragmas = ("PRAGMA journal_mode=WAL",)

    def __init__(self, data_dir):
        super().__init__(data_dir)
        # A schedule may hold a writer at a pause point: others wait for it, not give up.
        self.busy_timeout = wait_limit(BUSY_TIMEOUT_S)
        self.queue = WriterQueue(str(self.path) + ".writers", self.busy_timeout)
        self.writer = self._make_engine()
        # pysqlite would send a deferred BEGIN; take the write lock up front instead,
        # so two writers never both read and then fight to upgrade. Reads keep their
        # own engine, in autocommit, so they never wait for the write lock.
        event.listen(self.writer, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))

    def _make_engine(self):
        engine = create_engine(
            f"sqlite:///{self.path}", connect_args={"timeout": wait_limit(BUSY_TIMEOUT_S)}, **POOL
        )
        event.listen(engine, "connect", _configure_connection)
        return engine

    def after_fork(self) -> None:
        super().after_fork()
        self.writer.dispose(close=False)
        self.queue = WriterQueue(self.queue.lock_path, self.busy_timeout)

    def close(self) -> None:
        super().close()
        self.writer.dispose()

    @contextlib.contextmanager
    def _write(self):
        pause("lock")
        try:
            with self.queue.turn(), self.writer.begin() as conn:
                pause("read")
                yield conn
                pause("commit")
        except exc.OperationalError as e:
            if _locked(e):
                raise Busy(f"The database was locked for {BUSY_TIMEOUT_S:g} s.") from None
            raise

    def create_order(self, sku: str, qty: int, token: str) -> tuple[dict, bool]:
        with self._write() as conn:
            sql = conn.exec_driver_sql
            existing = sql(TX["by_token"], (token,)).first()
            if existing is not None:
                return dict(existing._mapping), False
            pause("write")
            if not sql(TX["take"], (qty, sku, qty)).rowcount:
                raise self._why_not_taken(conn, sku, qty)
            order = {"sku": sku, "qty": qty, "token": token, "created_at": utc_now()}
            order_id = sql(TX["insert"], (sku, qty, token, order["created_at"])).lastrowid
        return {"id": order_id, **order}, True

    @staticmethod
    def _why_not_taken(conn, sku: str, qty: int) -> Exception:
        row = conn.exec_driver_sql(TX["stock"], (sku,)).first()
        if row is None:
            return UnknownSku(f"No item has sku {sku!r}.")
        return OutOfStock.left(row.stock, sku, qty)

    def cancel_order(self, order_id: int) -> None:
        with self._write() as conn:
            sql = conn.exec_driver_sql
            row = sql(TX["by_id"], (order_id,)).first()
            if row is None:
                raise NotFound(f"No order has id {order_id}.")
            pause("write")
            sql(TX["give_back"], (row.qty, row.sku))
            sql(TX["delete"], (order_id,))


def _configure_connection(dbapi_connection, _record) -> None:
    # Hand transaction control to SQLAlchemy's "begin" hook (SQLAlchemy's documented
    # recipe for pysqlite). synchronous=FULL fsyncs the WAL at every commit: under NORMAL
    # a commit is only fsynced at the next checkpoint, and a power loss before it takes
    # back orders the server already acknowledged (docs/contract.md, Durability).
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA synchronous=FULL")

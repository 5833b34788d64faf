"""What every PostgreSQL strategy shares: where the database is, the schemas, set-up, reads,
and the beginner's read-then-write, written once for the strategies that differ only in
isolation."""

import contextlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, exc, text

import pgcluster
from servers.errors import StoreRefused, StoreUnreadable
from servers.oncall import DOCTORS_DEFAULT, SHIFTS_DEFAULT
from servers.postgres_store import oncall
from servers.sql import ORDER_COLUMNS, SELECT_BY_TOKEN, SqlReads
from servers.stepping import pause
from servers.storage import Store, seed_items

CONNINFO_FILE = "database.url"  # the libpq URL or key=value string the workers connect with
PRIVATE_DIR = "pgdata"  # a private server's cluster, inside the data dir
# Per worker process: 16 serving threads by default, with room for a werkzeug burst.
POOL = {"pool_size": 16, "max_overflow": 32, "pool_timeout": 30}
SERIALIZATION_FAILURES = {"40001", "40P01"}  # serialization failure, deadlock detected
UNIQUE_VIOLATION = "23505"

# The schemas: a beginner's, and one with the constraints that make it safe; the same tables
# as store.db (docs/contract.md), so the checker reads both alike.
# An identity column never hands an id out twice, even after a cancel deletes the highest.
# The beginner's schema indexes the token for speed; a plain index does not stop duplicates.
NAIVE_SCHEMA = (
    "CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER)",
    "CREATE TABLE orders (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sku TEXT,"
    " qty INTEGER, token TEXT, created_at TEXT)",
    "CREATE INDEX orders_token ON orders (token)",
)

# The token is the client's idempotency key. Two copies of one order may name different
# skus (a client bug, or a replay with a changed body), and a lock per sku does not
# serialize them: only a unique index on the token keeps one order per token. Every
# strategy that claims to hold has one (specs/same-token-two-skus.toml).
KEYED_SCHEMA = (*NAIVE_SCHEMA[:2], "CREATE UNIQUE INDEX orders_token ON orders (token)")

TRANSACTIONAL_SCHEMA = (
    "CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER NOT NULL CHECK (stock >= 0))",
    "CREATE TABLE orders (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " sku TEXT NOT NULL REFERENCES items(sku), qty INTEGER NOT NULL,"
    " token TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)",
)

DROP = tuple(
    f"DROP TABLE IF EXISTS {table}"
    for table in ("orders", "items", "leaves", "on_call", "shifts")  # the rota: oncall.py
)
# A database may be shared: racelab reuses or drops only tables that carry its mark.
TABLES = ("items", "orders", "shifts", "on_call", "leaves")
MARK = "racelab store: made by racelab serve postgres; racelab serve --reset replaces it"
MARK_TABLES = tuple(f"COMMENT ON TABLE {table} IS '{MARK}'" for table in TABLES)

LOCK_STOCK = text("SELECT stock FROM items WHERE sku = :sku FOR UPDATE")
TAKE = text("UPDATE items SET stock = stock - :qty WHERE sku = :sku AND stock >= :qty")
DELETE_RETURNING = text("DELETE FROM orders WHERE id = :id RETURNING sku, qty")
LOCK_ORDER = text("SELECT sku, qty FROM orders WHERE id = :id FOR UPDATE")


def read_conninfo(data_dir) -> str:
    """Return the connection string `racelab serve` wrote into the data dir."""
    return (Path(data_dir) / CONNINFO_FILE).read_text().strip()


def serialization_failure(error: exc.DBAPIError) -> bool:
    """Say whether PostgreSQL aborted a transaction to keep it serializable."""
    return getattr(error.orig, "sqlstate", None) in SERIALIZATION_FAILURES


class PostgresStore(SqlReads, Store):
    """Shared reads, set-up and serving; strategies differ in schema and writes."""

    filename = CONNINFO_FILE
    takes_database_url = True
    schema: tuple[str, ...] = NAIVE_SCHEMA

    @classmethod
    @contextlib.contextmanager
    def serving(cls, data_dir, database_url=None):
        """Write where the database is; without a URL, run a private server while serving."""
        path = Path(data_dir) / CONNINFO_FILE
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        if database_url:
            _write_private(path, database_url + "\n")
            yield f"database: {_without_password(database_url)}"
            return
        cluster = pgcluster.Cluster(Path(data_dir) / PRIVATE_DIR)
        if not cluster.exists():
            cluster.init()
        conninfo = cluster.start()
        try:
            _write_private(path, conninfo + "\n")
            yield _private_note(cluster)
        finally:
            cluster.stop()

    @classmethod
    def initialize(cls, data_dir, reset: bool, skus: int, stock: int, shifts: int = SHIFTS_DEFAULT,
                   doctors: int = DOCTORS_DEFAULT) -> None:  # fmt: skip
        """Create and seed the tables if missing or reset; refuse unreadable ones and others'."""
        import psycopg  # here, not at the top: a json or sqlite server need not load it

        try:
            with psycopg.connect(read_conninfo(data_dir), autocommit=True) as db:
                with db.transaction():  # the look and the drop see the same tables
                    present = _racelab_tables(db, data_dir)
                    if present and not reset:
                        db.execute(f"SELECT {ORDER_COLUMNS} FROM orders LIMIT 1")
                        db.execute("SELECT sku, stock FROM items LIMIT 1")
                        return
                    for statement in (*DROP, *cls.schema, *oncall.SCHEMA, *MARK_TABLES):
                        db.execute(statement)
                    db.cursor().executemany(
                        "INSERT INTO items VALUES (%s, %s)", list(seed_items(skus, stock).items())
                    )
                    oncall.seed(db, shifts, doctors)
        except (psycopg.Error, OSError) as e:
            raise StoreUnreadable(f"not a usable racelab PostgreSQL store ({e})") from None

    @classmethod
    def reseed(cls, data_dir, skus: int, stock: int, shifts: int = SHIFTS_DEFAULT,
               doctors: int = DOCTORS_DEFAULT) -> None:  # fmt: skip
        """Empty every table and seed them again, ids from 1 again; the schema stays."""
        import psycopg

        with psycopg.connect(read_conninfo(data_dir)) as db:
            db.execute("TRUNCATE orders, items, leaves, on_call, shifts RESTART IDENTITY")
            db.cursor().executemany(
                "INSERT INTO items VALUES (%s, %s)", list(seed_items(skus, stock).items())
            )
            oncall.seed(db, shifts, doctors)

    def __init__(self, data_dir):
        import psycopg

        super().__init__(data_dir)
        conninfo = read_conninfo(data_dir)
        self.engine = create_engine(
            "postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo), **POOL
        )

    def items(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT sku, stock FROM items ORDER BY sku"))
            return {sku: stock for sku, stock in rows}

    def _once_per_token(self, token: str, create) -> tuple[dict, bool]:
        """Run create(); when a copy with this token committed first, answer with that order."""
        try:
            return create()
        except exc.IntegrityError as e:
            if getattr(e.orig, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
        with self.engine.connect() as conn:
            return dict(conn.execute(SELECT_BY_TOKEN, {"token": token}).one()._mapping), False

    @contextlib.contextmanager
    def _transaction(self, isolation_level: str):
        """Yield run(statement, params) inside one transaction at isolation_level."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level=isolation_level)
            with conn.begin():
                yield conn.execute
                pause("commit")


def _racelab_tables(db, data_dir) -> list[str]:
    """Return racelab's tables present; raise StoreRefused naming any table it did not make."""
    rows = db.execute(
        "SELECT t, obj_description(to_regclass(t), 'pg_class') FROM unnest(%s::text[]) AS t"
        " WHERE to_regclass(t) IS NOT NULL",
        [list(TABLES)],
    ).fetchall()
    foreign = [table for table, mark in rows if mark != MARK]
    if foreign:
        raise StoreRefused(
            f"the database in {Path(data_dir) / CONNINFO_FILE} has "
            f"{'tables' if len(foreign) > 1 else 'a table'} racelab did not create: "
            f"{', '.join(foreign)}; racelab never uses or drops those, even with --reset "
            "(give it a database of its own, or drop them yourself)"
        )
    return [table for table, _ in rows]


def _write_private(path: Path, content: str) -> None:
    """Replace path whole with a file only its owner can read: a URL may hold a password."""
    # mkstemp creates 0600 with O_EXCL and O_NOFOLLOW; the rename replaces a symlink, never
    # writes through it, and a worker never reads half a file.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(content)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _without_password(conninfo: str) -> str:
    """Return conninfo fit to print: its password, in a URL or key=value, shown as ***."""
    import psycopg

    try:
        has_password = "password" in psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "(a connection string psycopg cannot parse)"
    return psycopg.conninfo.make_conninfo(conninfo, password="***") if has_password else conninfo


def _private_note(cluster) -> str:
    user = pgcluster.server_user()
    runs_as = f", run as user {user} (PostgreSQL refuses to run as root)" if user else ""
    return f"database: a private PostgreSQL server in {cluster.pgdata}{runs_as}"

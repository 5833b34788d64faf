"""Read a SQL store (store.db, or PostgreSQL's tables) by the contract's table formats."""

import contextlib
import sqlite3

from checker.integrity import connect_read_only, unreadable_sqlite, verdict_of
from checker.oncall import read_sql_shifts
from checker.orders import Orders
from checker.snapshot import Snapshot, is_int
from shapes import ORDER_FIELDS, ORDER_KINDS, ROW_FIELDS, is_order_row


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
    _read_items(snapshot, db)
    snapshot.orders, snapshot.malformed = orders, malformed


def _read_items(snapshot: Snapshot, db) -> None:
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
    _read_items(snapshot, db)
    cursor = db.execute(f"SELECT {COLUMNS} FROM orders")
    for row in cursor:
        if is_order_row(row):
            found.append(row[: len(ROW_FIELDS)])
        else:
            snapshot.malformed.append(dict(zip(ORDER_FIELDS, row, strict=True)))

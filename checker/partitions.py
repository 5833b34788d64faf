"""A large history and its store written to disk in partitions, by the hash of each token.

Every write of a token, and every stored order that holds it, lands in one partition, so
each token's facts are whole there and a partition is checked alone (checker/partitioned.py):
memory holds a few blocks, or one partition, never the whole history or store. The acked
ids and the stored ids are partitioned apart, by the id's hash, for the collisions.

The history is read with the engine's blocks, schema and tests (checker/engine.py); input
the engine would hand to the careful reader, and any history that is not the order
workload's (a leave, a read that recorded its answer), is not partitioned: the caller
checks it in memory. docs/benchmarks.md, 4.
"""

import contextlib
import shutil
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import polars as pl

from checker import engine
from checker.columns import OK
from checker.json_stream import stream_orders
from checker.orders import Orders, Snapshot
from checker.sql_store import (
    COLUMNS,
    WELL_TYPED,
    connect_read_only,
    read_items,
    read_sqlite_tables,
)
from checker.store_index import largest
from checker.stores import _ORDERS, _WELL_FORMED, SQLITE_MAGIC, read_store
from racelab.exceptions import RacelabError
from shapes import ORDER_FIELDS

# A partition for about this many bytes of history (625k operations as racelab writes
# them): one partition's columns, facts and store fit in a few hundred MB.
BYTES_A_PARTITION = 112 << 20
# Histories this large are checked a partition at a time; smaller ones in memory, faster.
PARTITIONED_FROM = 4 * BYTES_A_PARTITION
# Rows held, over all partitions, before each partition's share is written as a file: at
# 30M, a file per block per partition cost 68 CPU s against 50 (docs/benchmarks.md, 4).
FLUSH_ROWS = 1 << 20
STORE_PAGE = 1 << 20  # store.db orders read at a time


class NotPartitioned(RacelabError):
    """The input is checked in memory instead (why: the message)."""


def partition_count(history_path) -> int:
    """Return how many partitions a history file is checked in (1: in memory)."""
    size = Path(history_path).stat().st_size
    return 1 if size < PARTITIONED_FROM else -(-size // BYTES_A_PARTITION)


def token_part(tokens: pl.Series | pl.Expr, parts: int):
    """Return each token's partition: its polars hash modulo parts."""
    return (tokens.hash() % parts).cast(pl.Int32)


class Spool:
    """Rows handed to partitions, written as one IPC file per partition every FLUSH_ROWS."""

    def __init__(self, folder: Path, parts: int):
        self.folder, self.parts = folder, parts
        folder.mkdir(parents=True, exist_ok=True)
        self._pending: dict = {}
        self._held = self._files = 0

    def add(self, frame: pl.DataFrame, part: pl.Series) -> None:
        """Hand each row of frame to its partition (part: one per row)."""
        split = frame.with_columns(part=part).partition_by(
            "part", as_dict=True, maintain_order=True
        )
        for (number,), rows in split.items():
            self._pending.setdefault(number, []).append(rows.drop("part"))
        self._held += frame.height
        if self._held >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write each partition's pending rows as one file, and let them go."""
        for number, frames in self._pending.items():
            pl.concat(frames).write_ipc(self.folder / f"p{number:05}-{self._files:06}.arrow")
        self._files += 1
        self._pending.clear()
        self._held = 0

    def read(self, number: int) -> pl.DataFrame | None:
        """Return one partition's rows in the order they were handed (None: it has none).

        Each file holds its rows in that order (partition_by keeps it), and the files are
        named in the order they were written.
        """
        files = sorted(self.folder.glob(f"p{number:05}-*.arrow"))
        if not files:
            return None
        return pl.concat([pl.read_ipc(f) for f in files])

    def clear(self) -> None:
        """Forget every row handed so far."""
        self._pending.clear()
        self._held = 0
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)


class HistoryParts:
    """Pass 1 over a history file: its writes by token, its acked ids by id."""

    def __init__(self, work: Path, parts: int):
        self.parts = parts
        self.writes = Spool(work / "writes", parts)
        self.acked = Spool(work / "acked", parts)
        self.count = 0  # writes
        self.stopped = threading.Event()  # set: give up at the next block

    def read(self, path) -> None:
        """Read the history at path into the partitions, or raise NotPartitioned."""
        first, unsure = 0, False
        try:
            for frame in engine._file_frames(path):
                if self.stopped.is_set():
                    raise NotPartitioned("stopped: the check ended another way")
                lazy = frame.lazy().with_row_index("locator", offset=first)
                if first == 0:  # row 0: the run record, read already
                    lazy = lazy.filter(pl.col("locator") > 0)
                first += frame.height
                others = lazy.filter(pl.col("op").eq("leave") | engine.ANSWERED).select(pl.len())
                valid, writes, others = pl.collect_all(
                    [engine._validity(lazy), engine._writes(lazy), others]
                )
                del frame, lazy
                if not valid["valid"].item():
                    raise NotPartitioned("a line the careful reader reads")
                if others.item():
                    raise NotPartitioned("a leave, or a read that recorded its answer")
                unsure |= valid["unsure"].item()
                self._add(writes)
        except (pl.exceptions.PolarsError, OverflowError, TypeError, ValueError) as e:
            raise NotPartitioned(f"a line polars cannot read ({type(e).__name__})") from e
        if unsure and engine._says_null(path, "attempt"):
            raise NotPartitioned('"attempt": null')
        self.writes.flush()
        self.acked.flush()

    def _add(self, writes: pl.DataFrame) -> None:
        """Hand one block's writes to their partitions, numbered on in history order."""
        writes = writes.with_row_index("index", offset=self.count)
        self.count += writes.height
        self.writes.add(writes, token_part(writes["token"], self.parts))
        acked = writes.filter(
            pl.col("create") & (pl.col("rank") == OK) & pl.col("order_id").is_not_null()
        ).select("order_id", "token")
        self.acked.add(acked, id_part(acked["order_id"], self.parts))


def id_part(ids: pl.Series, parts: int) -> pl.Series:
    """Return each id's partition: its polars hash modulo parts."""
    return (ids.hash() % parts).cast(pl.Int32)


class StoreParts:
    """A store's well-formed orders by token (and their ids by id), in the store's order,
    with what the checks need of all of them: their count and qty summed by sku."""

    def __init__(self, work: Path, parts: int):
        self.parts = parts
        self.orders = Spool(work / "orders", parts)
        self.ids = Spool(work / "ids", parts)
        self.count = 0
        self.qty_by_sku: Counter = Counter()

    def append(self, orders: Orders) -> None:
        """Hand a block of the store's orders to their partitions (stream_orders' sink)."""
        if not isinstance(orders.tokens, pl.Series) or orders.ids.dtype == object:
            raise NotPartitioned("a token that is not UTF-8, or an id past int64")
        if orders.qtys.dtype == object:
            raise NotPartitioned("a qty past int64")
        try:
            skus = pl.Series(orders.skus, dtype=pl.String)
        except UnicodeEncodeError as e:  # a lone surrogate, read by the careful reader
            raise NotPartitioned("a sku that is not UTF-8") from e
        frame = pl.DataFrame(
            {
                "token": orders.tokens,
                "id": orders.ids,
                "sku": skus,
                "qty": orders.qtys,
            }
        ).with_row_index("position", offset=self.count)
        self.count += frame.height
        self._sum(frame)
        self.orders.add(frame, token_part(frame["token"], self.parts))
        ids = frame.select("id", "token")
        self.ids.add(ids, id_part(ids["id"], self.parts))

    def _sum(self, frame: pl.DataFrame) -> None:
        """Add a block's qty to its skus' totals, as Python ints (no sum can overflow)."""
        qty = frame["qty"].to_numpy()
        if largest(qty) > (2**62) // max(1, qty.size):
            for sku, amount in zip(frame["sku"].to_list(), qty.tolist(), strict=True):
                self.qty_by_sku[sku] += amount
            return
        sums = frame.group_by("sku").agg(pl.col("qty").sum())
        for sku, total in sums.iter_rows():
            self.qty_by_sku[sku] += total

    def flush(self) -> None:
        self.orders.flush()
        self.ids.flush()

    def clear(self) -> None:
        """Forget every order handed so far (a reader that gave up half way)."""
        self.orders.clear()
        self.ids.clear()
        self.count, self.qty_by_sku = 0, Counter()

    def take(self, snapshot: Snapshot) -> Snapshot:
        """Hand a snapshot read whole to the partitions; return it without its orders."""
        self.clear()
        if len(snapshot.orders):
            self.append(snapshot.orders)
        self.flush()
        snapshot.orders = Orders()
        return snapshot


def read_store_parts(path, parts: StoreParts) -> Snapshot:
    """Read a store file into parts a block at a time where its format allows (store.json
    as racelab writes it, store.db), else whole; return the snapshot without its orders.

    Raise NotPartitioned for a store.db that SQLite's integrity check fails: its orders
    are then not read at all (checker/sql_store.py), as the in-memory check does.
    """
    with open(path, "rb") as file:
        if file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC:
            return _read_sqlite_parts(path, parts)
        document = stream_orders(file, _WELL_FORMED, _ORDERS, parts)
    if document is None:
        return parts.take(read_store(path))
    parts.flush()
    snapshot = Snapshot(str(path), backend="json")
    snapshot.items, snapshot.shifts = document.items, document.shifts
    return snapshot


def _read_sqlite_parts(path, parts: StoreParts) -> Snapshot:
    """Read store.db's orders a page of rowids at a time into parts (whole if it must)."""
    snapshot = Snapshot(str(path), backend="sqlite")
    try:
        with contextlib.closing(connect_read_only(path)) as db:
            if not _paged(db, snapshot, parts):
                parts.clear()
                read_sqlite_tables(snapshot, db)
                parts.take(snapshot)
    except sqlite3.Error as e:
        raise NotPartitioned(f"store.db could not be read ({e})") from e
    parts.flush()
    return snapshot


def _paged(db, snapshot: Snapshot, parts: StoreParts) -> bool:
    """Read store.db as read_sqlite_tables does, its orders a page of rowids at a time;
    say whether that could be done (a newline in a token, or damage: not)."""
    probe = Snapshot(snapshot.path, backend="sqlite")
    try:
        if _shadowed_rowid(db):
            return False
        well_typed, low = 0, None
        while True:
            high = _page_end(db, low)
            where = " AND ".join(
                [WELL_TYPED]
                + ([] if low is None else [f"rowid > {low}"])
                + ([] if high is None else [f"rowid <= {high}"])
            )
            orders = Orders.joined(db, where)
            if orders is None:
                return False
            well_typed += len(orders)
            if len(orders):
                parts.append(orders)
            if high is None:
                break
            low = high
        if db.execute("SELECT count(*) FROM orders").fetchone()[0] != well_typed:
            query = f"SELECT {COLUMNS} FROM orders WHERE NOT ({WELL_TYPED})"
            probe.malformed = [dict(zip(ORDER_FIELDS, r, strict=True)) for r in db.execute(query)]
        read_items(probe, db)
    except sqlite3.Error:
        return False
    snapshot.items, snapshot.shifts = probe.items, probe.shifts
    snapshot.malformed, snapshot.corruption = probe.malformed, probe.corruption
    return True


def _shadowed_rowid(db) -> bool:
    """Say whether a column of orders takes the name of SQLite's rowid (which then names
    that column, not the order in which a scan returns the rows)."""
    names = {row[1].lower() for row in db.execute("PRAGMA table_info(orders)")}
    return bool(names & {"rowid", "_rowid_", "oid"})


def _page_end(db, low) -> int | None:
    """Return the last rowid of the page after low (None: the page runs to the end)."""
    after = "" if low is None else f"WHERE rowid > {low}"
    query = f"SELECT rowid FROM orders {after} ORDER BY rowid LIMIT 1 OFFSET {STORE_PAGE - 1}"
    row = db.execute(query).fetchone()
    return None if row is None else row[0]

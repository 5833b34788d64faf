"""What a store holds, as far as it could be read (the Snapshot every reader fills), and its
well-formed orders as columns, read as a sequence of (id, sku, qty, token) tuples.

A million orders as tuples cost about 160 bytes each (the tuple, an int object for the id,
the token); as columns, ids and qtys are numpy arrays and the tokens one polars string
column (a Python str each would be 57 bytes or more: 520 MB at 9M), and the checker's
index reads a column where it would map itemgetter over tuples. Anything that iterates or
indexes the orders (examples, the swimlane, conform) still gets tuples, made on demand.
"""

import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter

import numpy as np
import polars as pl


class Orders(Sequence):
    """Orders by column: ids and qtys as arrays (object arrays past int64), skus, tokens."""

    def __init__(self, ids=(), skus=(), qtys=(), tokens=()):
        """ids and qtys: ints (never None, never bool); skus and tokens: strs (tokens may be
        a polars String Series already)."""
        self.ids, self.qtys = int_array(ids), int_array(qtys)
        self.skus, self.tokens = list(skus), token_column(tokens)

    @classmethod
    def from_tuples(cls, rows: list) -> "Orders":
        """Return the orders of a list of (id, sku, qty, token) tuples."""
        # A column at a time: zip(*rows) would make a million iterators.
        ids, skus, qtys, tokens = (list(map(itemgetter(k), rows)) for k in range(4))
        return cls(ids, map(sys.intern, skus), qtys, tokens)

    @classmethod
    def from_structs(cls, orders: list) -> "Orders":
        """Return the orders of decoded structs with id, sku, qty and token attributes."""
        ids, qtys = (_int_column(orders, name) for name in ("id", "qty"))
        skus = map(sys.intern, map(attrgetter("sku"), orders))  # ten skus, a million orders
        return cls(ids, skus, qtys, list(map(attrgetter("token"), orders)))

    @classmethod
    def joined_parts(cls, parts: list) -> "Orders":
        """Return the orders of parts, one after another."""
        if not parts:
            return cls()
        ids, qtys = (np.concatenate([getattr(p, name) for p in parts]) for name in ("ids", "qtys"))
        skus = [sku for part in parts for sku in part.skus]
        columns = [part.tokens for part in parts]
        if all(isinstance(column, pl.Series) for column in columns):
            return cls(ids, skus, qtys, pl.concat(columns, rechunk=False))
        return cls(ids, skus, qtys, [token for column in columns for token in column])

    @classmethod
    def fetched(cls, cursor, chunk: int = 1 << 16) -> "Orders":
        """Return a database cursor's (id, sku, qty, token) rows, fetched a chunk at a time."""
        # Not all at once: every row as a tuple would double the read's peak, and ids and
        # qtys become arrays a chunk at a time (8M ids as Python ints would be 256 MB).
        ids: list = []
        skus: list = []
        qtys: list = []
        tokens: list = []
        while rows := cursor.fetchmany(chunk):
            ids.append(int_array(list(map(itemgetter(0), rows))))
            qtys.append(int_array(list(map(itemgetter(2), rows))))
            skus.extend(map(sys.intern, map(itemgetter(1), rows)))
            tokens.extend(map(itemgetter(3), rows))
        if not tokens:
            return cls()
        return cls(np.concatenate(ids), skus, np.concatenate(qtys), tokens)

    @classmethod
    def joined(cls, db, where: str) -> "Orders | None":
        """Return the rows of orders that match where, read as four joined columns; None when
        a text column cannot be split back into its rows (a newline in a sku or token).
        """
        # SQLite joins a million values in C in a third less time than the sqlite3 module
        # makes a million row tuples (docs/benchmarks.md, section 4). The four aggregates
        # of one query see the rows in one order, the order a plain SELECT returns them.
        query = (
            "SELECT count(*), group_concat(id), group_concat(sku, char(10)), group_concat(qty),"
            f" group_concat(token, char(10)) FROM orders WHERE {where}"
        )
        try:
            count, ids, skus, qtys, tokens = db.execute(query).fetchone()
        except sqlite3.DataError:  # a column joined past SQLite's longest string (1 GB)
            return None
        if count == 0:
            return cls()
        skus, tokens = interned_lines(skus), _lines(tokens)
        ids, qtys = _ints(ids, count), _ints(qtys, count)
        if len(skus) != count or len(tokens) != count or ids is None or qtys is None:
            return None
        return cls(ids, skus, qtys, tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, position):
        if isinstance(position, slice):
            return list(self)[position]
        return (self.ids[position].item() if self.ids.dtype != object else self.ids[position],
                self.skus[position], int(self.qtys[position]), self.tokens[position])  # fmt: skip

    def __iter__(self):
        return zip(self.ids.tolist(), self.skus, self.qtys.tolist(), self.tokens, strict=True)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Orders | list | tuple):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    def __repr__(self) -> str:
        return f"Orders({list(self)!r})"


def _int_column(structs: list, name: str) -> np.ndarray:
    """Return one int attribute of every struct as an array (see int_array)."""
    try:  # no list of a million ints on the way
        return np.fromiter(map(attrgetter(name), structs), np.int64, len(structs))
    except OverflowError:
        return int_array(list(map(attrgetter(name), structs)))


def _ints(joined: str, count: int) -> np.ndarray | None:
    """Return count integers joined by commas as int64 (SQLite's are 64-bit); None if not."""
    try:
        values = np.fromstring(joined, dtype=np.int64, sep=",")
    except ValueError:
        return None
    return values if values.size == count else None


def interned_lines(joined: str, chunk: int = 1 << 20) -> list:
    """Return joined.split("\\n") with each string interned, split a chunk at a time.

    A store's orders name a few skus millions of times: split whole, every copy would live
    at once before interning let them go (docs/benchmarks.md, section 4); a chunk's copies
    die together.
    """
    found: list[str] = []
    start = 0
    while start <= len(joined):
        end = joined.find("\n", start + chunk)
        end = len(joined) if end == -1 else end
        found.extend(map(sys.intern, joined[start:end].split("\n")))
        start = end + 1
    return found


def _lines(joined: str) -> pl.Series:
    """Return joined.split("\\n") as a polars column, split in polars (no str per line)."""
    return pl.Series([joined], dtype=pl.String).str.split("\n").explode()


def token_column(tokens) -> "pl.Series | list":
    """Return tokens as a polars String column, or as a list if one is not UTF-8.

    A token read through the API or by the careful JSON reader may hold a lone surrogate,
    which polars (UTF-8 only) cannot hold; such a store keeps its tokens as strs.
    """
    if isinstance(tokens, pl.Series):
        return tokens
    tokens = tokens if isinstance(tokens, list) else list(tokens)
    try:
        return pl.Series(tokens, dtype=pl.String)
    except UnicodeEncodeError:
        return tokens


def int_array(values) -> np.ndarray:
    """Return ints as int64, or as Python ints in an object array when one passes int64."""
    if isinstance(values, np.ndarray):
        return values
    values = values if isinstance(values, list | tuple) else list(values)
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:  # JSON and SQLite's own ints are unbounded here; numpy would wrap
        return np.array(values, dtype=object)


@dataclass
class Snapshot:
    """What a store holds, as far as it could be read."""

    path: str
    backend: str | None = None
    items: dict | None = None
    # Well-formed orders, read as (id, sku, qty, token) tuples, held as columns (millions).
    orders: Orders = field(default_factory=Orders)
    # Orders with missing or ill-typed fields, as they were found.
    malformed: list = field(default_factory=list)
    corruption: str | None = None
    unreadable: str | None = None  # why nothing could be read (a server's final reads failed)
    shifts: dict | None = None  # who is on call, by shift ({}: no rota; None: not read)

    @property
    def readable(self) -> bool:
        """Say whether any orders or items could be read."""
        return self.readable_with(len(self.orders))

    def readable_with(self, orders: int) -> bool:
        """Say whether any orders or items could be read, the store holding this many
        well-formed orders (a partitioned check holds them on disk, not here)."""
        return self.unreadable is None and (self.items is not None or orders > 0)

    @property
    def through_api(self) -> bool:
        """Say whether the state was read through the HTTP API rather than from a file."""
        return self.backend == "api"


def is_int(value) -> bool:
    """Say whether value is an int and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)

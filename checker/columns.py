"""A history's write records as columns: one numpy array per field, gathered a block at a time.

The per-record work is what C does: msgspec decodes a block, attrgetter reads one field of
every record, numpy turns each field into an array, and tokens are numbered by hash
(checker/tokens.py). No Python statement runs once per record, which is what lets a
million-operation history be indexed in a few seconds (docs/benchmarks.md, section 4).
"""

import itertools
import operator
from dataclasses import dataclass, field
from operator import attrgetter

import numpy as np

from checker.tokens import NONE, TokenTable

FAIL, INFO, OK = 0, 1, 2  # outcome ranks: the strongest evidence about one token wins
RANK = {"fail": FAIL, "info": INFO, "ok": OK}
IS_CREATE = {"create": True, "cancel": False}  # the write ops; every other op is skipped
ARRAYS = ("create", "rank", "sku", "qty", "has_qty", "order_id", "has_id", "unsent", "t0",
          "t1", "locator")  # fmt: skip
GET = {name: attrgetter(name) for name in ("op", "token", "sku", "qty", "order_id", "status",
                                           "type", "t0", "t1")}  # fmt: skip


@dataclass
class Columns:
    """The write records of a history, in history order, one array per field."""

    tokens: TokenTable = None  # the distinct tokens and their codes
    skus: dict = field(default_factory=dict)  # sku -> code, in order of first mention
    code: np.ndarray = None  # each write's token code
    create: np.ndarray = None  # True for a create, False for a cancel
    rank: np.ndarray = None  # FAIL, INFO or OK
    sku: np.ndarray = None  # the sku's code, or NONE when the record names none
    qty: np.ndarray = None
    has_qty: np.ndarray = None
    order_id: np.ndarray = None
    has_id: np.ndarray = None
    unsent: np.ndarray = None  # no status: refused or never sent
    t0: np.ndarray = None
    t1: np.ndarray = None
    locator: np.ndarray = None  # where the record can be read again

    def __len__(self) -> int:
        return int(self.code.size)

    @property
    def sku_names(self) -> list:
        """Return the skus in code order."""
        return list(self.skus)


def gather(history, tail=None) -> Columns:
    """Read a history's records once and return its writes as columns.

    tail, from checker.tail.start(), is a child process reading the history's blocks from
    the end while this one reads them from the start; without its answer, the whole history
    is read here.
    """
    columns, parts, tokens = Columns(), [], []
    stop = None if tail is None else tail.ends()
    for locators, records in history.typed_blocks(stop):
        part = block_arrays(columns.skus, tokens, locators, records)
        if part is not None:
            parts.append(part)
    if tail is not None and not _add_tail(columns.skus, tokens, parts, tail.result()):
        return gather(history)
    for name in ARRAYS:
        # Popped: each field's blocks are let go once joined (60 MB less at the peak at 1M).
        setattr(columns, name, np.concatenate([p.pop(name) for p in parts] or [_EMPTY[name]]))
    _number_tokens(columns, tokens)
    return columns


def _add_tail(skus: dict, tokens: list, parts: list, tail: dict | None) -> bool:
    """Append the tail's writes to the head's, its sku codes renumbered; False: no tail."""
    if tail is None:
        return False
    renumber = renumbering(skus, tail["skus"])
    for block in tail["blocks"]:
        block["sku"] = renumber[block["sku"]]
        parts.append(block)
    tokens.extend(tail["tokens"])
    return True


def renumbering(skus: dict, names: list) -> np.ndarray:
    """Return the map from sku codes numbered by names to codes numbered by skus, which
    gains the skus it lacked; NONE (-1) maps to NONE, the last entry.
    """
    new = [sku for sku in names if sku not in skus]
    skus.update(zip(new, itertools.count(len(skus))))
    return np.array([skus[sku] for sku in names] + [NONE], np.int64)


def block_arrays(skus: dict, tokens: list, locators, records) -> dict | None:
    """Return one block's writes as arrays; add their tokens to tokens."""
    op = list(map(GET["op"], records))
    is_write = [name in IS_CREATE for name in op]
    locators = np.asarray(locators, np.int64)  # a numpy array already, from a clean block
    if not all(is_write):
        records = list(itertools.compress(records, is_write))
        locators = locators[np.array(is_write, bool)]
        op = list(itertools.compress(op, is_write))
    if not records:
        return None
    n = len(records)
    column = {name: list(map(get, records)) for name, get in GET.items() if name != "op"}
    tokens.extend(column["token"])
    qty, has_qty = ints(column["qty"])
    order_id, has_id = ints(column["order_id"])
    return {
        "create": np.fromiter(map(IS_CREATE.__getitem__, op), bool, n),
        "rank": np.fromiter(map(RANK.__getitem__, column["type"]), np.int8, n),
        "sku": _sku_codes(skus, column["sku"], n),
        "qty": qty, "has_qty": has_qty, "order_id": order_id, "has_id": has_id,
        "unsent": _nones(column["status"]),
        "t0": np.array(column["t0"], dtype=np.float64),
        "t1": np.array(column["t1"], dtype=np.float64),
        "locator": locators,
    }  # fmt: skip


def _nones(values) -> np.ndarray:
    """Return where values are None."""
    return np.fromiter(map(operator.is_, values, itertools.repeat(None)), bool, len(values))


def _sku_codes(known: dict, values: list, n: int) -> np.ndarray:
    """Return each sku's code, giving new skus the next codes (None: NONE)."""
    new = [v for v in dict.fromkeys(values) if v not in known and v is not None]
    known.update(zip(new, itertools.count(len(known))))
    return np.fromiter(map(known.get, values, itertools.repeat(NONE)), np.int64, n)


def ints(values) -> tuple[np.ndarray, np.ndarray]:
    """Return (values as an array, None read as 0; which were present).

    int64 when they fit; Python ints in an object array when one does not (JSON has no
    bound on an integer, and a hostile history may send one that numpy would wrap).
    """
    present = ~_nones(values)
    filled = values if present.all() else [0 if v is None else v for v in values]
    try:
        return np.array(filled, dtype=np.int64), present
    except OverflowError:
        return np.array(filled, dtype=object), present


_EMPTY = {name: ints([])[0] for name in ARRAYS} | {
    "create": np.zeros(0, bool), "rank": np.zeros(0, np.int8), "has_qty": np.zeros(0, bool),
    "has_id": np.zeros(0, bool), "unsent": np.zeros(0, bool), "t0": np.zeros(0),
    "t1": np.zeros(0),
}  # fmt: skip


def _number_tokens(columns: Columns, tokens: list) -> None:
    """Code every write's token; a cancel named by id takes its order's token, or is dropped."""
    if None not in tokens:
        columns.tokens = TokenTable(tokens)
        columns.code = columns.tokens.codes
        return
    named = np.fromiter((t is not None for t in tokens), bool, len(tokens))
    columns.tokens = TokenTable([t for t in tokens if t is not None])
    columns.code = np.full(len(tokens), NONE, np.int64)
    columns.code[named] = columns.tokens.codes
    _name_cancels_by_id(columns, np.flatnonzero(~named & ~columns.create & columns.has_id))
    kept = columns.code != NONE
    for name in ("code", *ARRAYS):
        setattr(columns, name, getattr(columns, name)[kept])


def _name_cancels_by_id(columns: Columns, cancels: np.ndarray) -> None:
    """Give a cancel that names only an id the token of the first earlier ok create of it."""
    acked = np.flatnonzero(columns.create & (columns.rank == OK) & columns.has_id)
    first: dict = {}
    for position in acked.tolist():  # rare: only a history that names cancels by id
        first.setdefault(columns.order_id[position], position)
    for position in cancels.tolist():
        holder = first.get(columns.order_id[position])
        if holder is not None and holder < position:
            columns.code[position] = columns.code[holder]

"""A history's write records as columns: one numpy array per field, in history order.

checker/engine.py fills them from polars; for input polars would read otherwise than the
careful reader (history/read.py), careful_columns() fills them from that reader's records,
one at a time, with tokens numbered by a dictionary: exact whatever a line holds (a lone
surrogate, an integer past int64, a cancel that names only an id).
"""

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Protocol

import numpy as np

NONE = -1  # no code: a token no write named, a sku no record gave
FAIL, INFO, OK = 0, 1, 2  # outcome ranks: the strongest evidence about one token wins
RANK = {"fail": FAIL, "info": INFO, "ok": OK}
WRITES = ("create", "cancel")  # the write ops; every other op is left out


class TokenTable(Protocol):
    """A history's distinct tokens, each with a code (tokens.Tokens, DictTokens)."""

    def __len__(self) -> int: ...
    def name(self, code: int) -> str: ...
    def names(self, codes) -> list: ...
    def lookup(self, tokens) -> np.ndarray: ...
    def code(self, token) -> int: ...


def unset() -> np.ndarray:
    """Return an empty array: a column, or a per-token fact, before it is gathered."""
    return np.empty(0)


@dataclass
class Columns:
    """The write records of a history, in history order, one array per field."""

    tokens: TokenTable = field(default_factory=lambda: DictTokens([]))  # and their codes
    skus: dict = field(default_factory=dict)  # sku -> code, in order of first mention
    code: np.ndarray = field(default_factory=unset)  # each write's token code
    create: np.ndarray = field(default_factory=unset)  # True for a create, False for a cancel
    rank: np.ndarray = field(default_factory=unset)  # FAIL, INFO or OK
    # the sku's code, or NONE when the record names none
    sku: np.ndarray = field(default_factory=unset)
    qty: np.ndarray = field(default_factory=unset)
    has_qty: np.ndarray = field(default_factory=unset)
    order_id: np.ndarray = field(default_factory=unset)
    has_id: np.ndarray = field(default_factory=unset)
    unsent: np.ndarray = field(default_factory=unset)  # no status: refused or never sent
    t0: np.ndarray = field(default_factory=unset)
    t1: np.ndarray = field(default_factory=unset)
    locator: np.ndarray = field(default_factory=unset)  # where the record can be read again

    def __len__(self) -> int:
        return int(self.code.size)

    @property
    def sku_names(self) -> list:
        """Return the skus in code order."""
        return list(self.skus)


class DictTokens:
    """Distinct tokens numbered by a dictionary, codes in order of first appearance."""

    def __init__(self, tokens: list):
        """Number every token of tokens (no None among them)."""
        index: dict = {}
        self.codes = np.fromiter(
            (index.setdefault(t, len(index)) for t in tokens), np.int64, len(tokens)
        )
        self._index, self._names = index, list(index)

    def __len__(self) -> int:
        return len(self._names)

    def name(self, code: int) -> str:
        """Return the token a code stands for."""
        return self._names[code]

    def names(self, codes) -> list:
        """Return the tokens for codes, in order of first appearance (the codes' order)."""
        return [self._names[c] for c in np.sort(np.asarray(codes, np.int64)).tolist()]

    def lookup(self, tokens) -> np.ndarray:
        """Return the code of each token (NONE for one not in the table)."""
        tokens = list(tokens)
        return np.fromiter((self._index.get(t, NONE) for t in tokens), np.int64, len(tokens))

    def code(self, token) -> int:
        """Return one token's code, or NONE."""
        return self._index.get(token, NONE)


def careful_columns(history) -> Columns:
    """Return a history's writes as columns, from the careful reader's records."""
    locators, ops = [], []
    for block_locators, block in history.typed_blocks():
        for locator, op in zip(block_locators, block, strict=True):
            if op.op in WRITES:
                locators.append(int(locator))
                ops.append(op)
    columns = Columns(skus={})
    values = {name: list(map(attrgetter(name), ops)) for name in ("sku", "qty", "order_id")}
    columns.create = np.array([op.op == "create" for op in ops], bool)
    columns.rank = np.array([RANK[op.type] for op in ops], np.int8)
    columns.sku = _sku_codes(columns.skus, values["sku"])
    columns.qty, columns.has_qty = ints(values["qty"])
    columns.order_id, columns.has_id = ints(values["order_id"])
    columns.unsent = np.array([op.status is None for op in ops], bool)
    columns.t0 = np.array([op.t0 for op in ops], np.float64)
    columns.t1 = np.array([op.t1 for op in ops], np.float64)
    columns.locator = np.array(locators, np.int64)
    _number_tokens(columns, [op.token for op in ops])
    return columns


def _sku_codes(known: dict, values: list) -> np.ndarray:
    """Return each sku's code, giving new skus the next codes (None: NONE)."""
    for sku in values:
        if sku is not None and sku not in known:
            known[sku] = len(known)
    return np.array([NONE if sku is None else known[sku] for sku in values], np.int64)


def ints(values: list) -> tuple[np.ndarray, np.ndarray]:
    """Return (values as an array, None read as 0; which were present).

    int64 when they fit; Python ints in an object array when one does not (JSON has no
    bound on an integer, and a hostile history may send one that numpy would wrap).
    """
    present = np.array([v is not None for v in values], bool)
    filled = [0 if v is None else v for v in values]
    try:
        return np.array(filled, dtype=np.int64), present
    except OverflowError:
        return np.array(filled, dtype=object), present


def _number_tokens(columns: Columns, tokens: list) -> None:
    """Code every write's token; a cancel named by id takes its order's token, or is dropped."""
    named = np.array([t is not None for t in tokens], bool)
    columns.tokens = DictTokens([t for t in tokens if t is not None])
    columns.code = np.full(len(tokens), NONE, np.int64)
    columns.code[named] = columns.tokens.codes
    if named.all():
        return
    _name_cancels_by_id(columns, np.flatnonzero(~named & ~columns.create & columns.has_id))
    kept = columns.code != NONE
    for name in ("code", "create", "rank", "sku", "qty", "has_qty", "order_id", "has_id",
                 "unsent", "t0", "t1", "locator"):  # fmt: skip
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

"""What a history and a store say, indexed once for every check to share.

Columnar (checker/columns.py): each token has a small integer code, and what the history
says about it - its strongest create and cancel, the id it was acknowledged, the sku and
qty it first sent - is reduced over the codes by numpy, so a million operations are indexed
in C. The records themselves stay in the file until an example needs one.
"""

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from checker.columns import FAIL, INFO, NONE, OK, RANK, Columns, careful_columns, unset
from checker.contention import NOT_SENT

__all__ = ["FAIL", "INFO", "NONE", "OK", "RANK", "HistoryFacts", "history_facts"]
OUTCOMES = ("fail", "info", "ok")
# "No write yet" for a reduction that keeps the earliest: past any write's position, which
# is an int32 (as the per-token positions are) while a history has fewer than 2**31 writes.
LATEST = np.iinfo(np.int32).max


@dataclass
class HistoryFacts:
    """What the clients did, per token (arrays indexed by token code), and per write."""

    initial: dict
    writes: Columns
    fetch: Callable[[int], dict]  # locator -> record
    # strongest create outcome per token, or NONE if never sent
    created: np.ndarray = field(default_factory=unset)
    # strongest cancel outcome per token, or NONE
    cancelled: np.ndarray = field(default_factory=unset)
    # the write whose answer gave the token its id (last ok create)
    acked: np.ndarray = field(default_factory=unset)
    cancel: np.ndarray = field(default_factory=unset)  # the token's last ok cancel
    # the token's first create that named both sku and qty
    first_sent: np.ndarray = field(default_factory=unset)
    collisions: dict = field(default_factory=dict)  # id -> tokens that were all acked it
    counts: dict = field(default_factory=dict)
    # each write's sku group, for the contention measure
    sku: np.ndarray = field(default_factory=unset)
    _by_start: tuple | None = None

    def tokens_at(self, mask: np.ndarray) -> list:
        """Return the tokens a per-token mask selects, in the order of their first write."""
        return self.writes.tokens.names(np.flatnonzero(mask))

    @property
    def t0(self) -> np.ndarray:
        return self.writes.t0

    @property
    def t1(self) -> np.ndarray:
        return self.writes.t1

    def code(self, token) -> int:
        """Return token's code, or NONE if no write named it."""
        return self.writes.tokens.code(token)

    def outcome(self, token) -> str | None:
        """Return the strongest create outcome of token by name, or None if never sent."""
        code = self.code(token)
        return None if code == NONE or self.created[code] == NONE else OUTCOMES[self.created[code]]

    def acked_id(self, token):
        """Return the id an ok create of token was answered with, or None."""
        return self._value(self.writes.order_id, self.writes.has_id, self.acked, token)

    def cancelled_id(self, token):
        """Return the id token's last ok cancel named, or None."""
        return self._value(self.writes.order_id, self.writes.has_id, self.cancel, token)

    def _value(self, values, present, positions, token):
        code = self.code(token)
        position = NONE if code == NONE else positions[code]
        return None if position == NONE or not present[position] else plain(values[position])

    def sent(self, token) -> tuple:
        """Return the (sku, qty) token's first create named, or (None, None)."""
        code = self.code(token)
        if code == NONE or self.first_sent[code] == _latest_of(self.first_sent):
            return None, None
        first = self.first_sent[code]
        return self.writes.sku_names[self.writes.sku[first]], plain(self.writes.qty[first])

    def sent_skus_and_qtys(self) -> tuple[np.ndarray, np.ndarray]:
        """Return per token the sku code and qty it first sent (sku NONE: never sent both)."""
        sent, writes = self.first_sent, self.writes
        never = sent == _latest_of(sent)
        where = np.where(never, 0, sent)
        return np.where(never, NONE, writes.sku[where]), writes.qty[where]

    def record(self, index: int) -> dict:
        """Return the write record at index."""
        return self.fetch(int(self.writes.locator[index]))

    def write_indices(self, token) -> list[int]:
        """Return the indices of token's write records, in history order."""
        code = self.code(token)
        return [] if code == NONE else np.flatnonzero(self.writes.code == code).tolist()

    def records(self, token, limit: int = 5) -> list[dict]:
        """Return up to limit of token's write records, in history order."""
        return [self.record(i) for i in self.write_indices(token)[:limit]]

    def overlapping(self, index: int, limit: int = 5) -> list[dict]:
        """Return up to limit write records whose time span overlaps the one at index."""
        starts, order, longest = self._start_order()
        t0, t1 = self.t0[index], self.t1[index]
        begin, end = np.searchsorted(starts, [t0 - longest, t1], side="left")
        found = (i for i in order[begin:end].tolist() if i != index and self.t1[i] > t0)
        return [self.record(i) for i in itertools.islice(found, limit)]

    def _start_order(self):
        """Sort the writes by start time once, on the first example that needs it."""
        if self._by_start is None:
            order = np.argsort(self.t0, kind="stable")
            longest = float((self.t1 - self.t0).max()) if order.size else 0.0
            self._by_start = (self.t0[order], order, longest)
        return self._by_start


def history_facts(history) -> HistoryFacts:
    """Index a history's writes by token and id, read by the careful reader (history/read.py).

    history is a history.History (records in memory) or a history.HistoryStream (records in
    a file); either yields blocks of (locators, Ops) and fetches a record by its locator.
    """
    return facts_from(history, careful_columns(history))


def facts_from(history, writes: Columns, fetch=None) -> HistoryFacts:
    """Reduce a history's writes, as columns, to the facts per token the checks share.

    fetch reads a record again by its locator (history.record_at unless given).
    """
    fetch = history.record_at if fetch is None else fetch
    facts = HistoryFacts(initial=dict(history.run["items"]), writes=writes, fetch=fetch)
    tokens = len(writes.tokens)
    positions: np.ndarray = np.arange(len(writes), dtype=_positions(writes))
    create, ok = writes.create, writes.rank == OK
    facts.created = _strongest(tokens, writes.code[create], writes.rank[create])
    facts.cancelled = _strongest(tokens, writes.code[~create], writes.rank[~create])
    acked = create & ok & writes.has_id
    facts.acked = _latest(tokens, writes.code[acked], positions[acked])
    facts.cancel = _latest(tokens, writes.code[~create & ok], positions[~create & ok])
    named = create & (writes.sku != NONE) & writes.has_qty
    facts.first_sent = _first_sent(tokens, writes, np.flatnonzero(named))
    facts.counts = _counts(writes)
    facts.collisions = _collisions(writes, acked)
    facts.sku = _sku_groups(writes, facts.first_sent)
    return facts


def _first_sent(tokens: int, writes: Columns, named: np.ndarray) -> np.ndarray:
    """Return per token its earliest-invoked create that named sku and qty (LATEST: none).

    Invocation time, not history order: records are written as answers come back, and the
    copy that was sent first is the one a later copy of the token must be answered with.
    """
    kind = _positions(writes)
    first: np.ndarray = np.full(tokens, np.iinfo(kind).max, kind)
    named = named.astype(kind)
    codes, t0 = writes.code[named], writes.t0[named]
    earliest = np.full(tokens, np.inf)
    np.minimum.at(earliest, codes, t0)
    # Of the creates sent at a token's earliest time, the first in history order.
    at = t0 == earliest[codes]
    np.minimum.at(first, codes[at], named[at])
    return first


def plain(value):
    """Return a numpy integer as a Python int (an object array's items already are)."""
    return value.item() if isinstance(value, np.generic) else value


def _strongest(tokens: int, codes, ranks) -> np.ndarray:
    found = np.full(tokens, NONE, np.int8)
    np.maximum.at(found, codes, ranks)
    return found


def _positions(writes: Columns) -> type:
    """Return the narrowest type that holds a position among the writes (and LATEST)."""
    return np.int32 if len(writes) < LATEST else np.int64


def _latest_of(first: np.ndarray) -> int:
    """Return the "no write yet" of a per-token array of positions."""
    return int(np.iinfo(first.dtype).max)


def _latest(tokens: int, codes, positions) -> np.ndarray:
    found = np.full(tokens, NONE, positions.dtype)
    np.maximum.at(found, codes, positions)
    return found


def _counts(writes: Columns) -> dict:
    """Count each write op's outcomes: {"creates": {"fail": n, "info": n, "ok": n}, ...}."""
    counted = np.bincount(writes.create * 3 + writes.rank, minlength=6).tolist()
    return {
        "creates": dict(zip(OUTCOMES, counted[3:], strict=True)),
        "cancels": dict(zip(OUTCOMES, counted[:3], strict=True)),
    }


def _collisions(writes: Columns, acked: np.ndarray) -> dict:
    """Return id -> sorted tokens, for every id that ok answers gave to more than one token."""
    ids, codes = writes.order_id[acked], writes.code[acked]
    order = np.argsort(ids, kind="stable")
    ids, codes = ids[order], codes[order]
    # Sorted by id, an id went to two tokens exactly where two neighbours differ in token.
    clash = (ids[1:] == ids[:-1]) & (codes[1:] != codes[:-1])
    name, found = writes.tokens.name, defaultdict[int, set](set)
    for at in np.flatnonzero(clash).tolist():
        found[plain(ids[at])].update((name(codes[at]), name(codes[at + 1])))
    return {i: sorted(tokens) for i, tokens in found.items()}


def _sku_groups(writes: Columns, sent: np.ndarray) -> np.ndarray:
    """Number each write's sku for the contention measure; NOT_SENT if it never got there.

    A write that names no sku (a cancel, usually) counts under the sku its token first
    sent, if that came earlier; with none known it is a group of its own.
    """
    positions = np.arange(len(writes), dtype=sent.dtype)
    first = sent[writes.code] if len(writes) else positions
    inherited = np.where(first <= positions, first, 0)
    sku = writes.sku
    own = (sku != NONE) & (sku != writes.skus.get("", NONE))  # "" names no sku either
    group = np.where(own, sku, np.where(first <= positions, sku[inherited], NONE))
    alone = group == NONE
    group[alone] = len(writes.skus) + np.arange(int(alone.sum()))
    group[(writes.rank == FAIL) & writes.unsent] = NOT_SENT
    return group.astype(np.int32)

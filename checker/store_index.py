"""The store's orders indexed once (each token's first order, repeats, qty by sku), and
joined to the history's tokens as arrays the checks share.

Each stored order's token is looked up once (by hash in polars, checker/engine.py) to find
its code in the history (checker/facts.py); every check that asks "is this token stored?"
or "what did its client send?" then reads an array instead of a dictionary per token.
"""

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from checker.columns import NONE, OK, unset
from checker.orders import Orders
from checker.tokens import may_repeat, token_series
from shapes import ID, TOKEN


@dataclass
class StoreIndex:
    """A store's orders indexed by token; repeated tokens and ids kept apart, being rare."""

    distinct: Orders = field(default_factory=Orders)  # each token's first order, in order
    repeated_tokens: dict = field(default_factory=lambda: defaultdict(list))
    repeated_ids: dict = field(default_factory=lambda: defaultdict(list))
    qty_by_sku: Counter = field(default_factory=Counter)
    # What ill-typed orders still say: their tokens are stored (so not lost), and their
    # skus' stock cannot be added up (ANY_SKU: an order whose sku is unreadable too).
    malformed_tokens: set = field(default_factory=set)
    uncertain_skus: set = field(default_factory=set)
    # Per stored order: the position of the first order of its sku, and its qty.
    sku_at: np.ndarray = field(default_factory=unset)
    qty: np.ndarray = field(default_factory=unset)
    first_of_sku: dict = field(default_factory=dict)  # sku -> the position of its first order

    def stock_known(self, sku) -> bool:
        """Say whether every stored order of sku could be counted."""
        return ANY_SKU not in self.uncertain_skus and sku not in self.uncertain_skus

    @cached_property
    def by_token(self) -> dict:
        """Return token -> its first order, built on first use: only examples look one up."""
        return dict(zip(self.distinct.tokens, self.distinct, strict=True))


ANY_SKU = object()


def index_store(snapshot) -> StoreIndex:
    """Index a snapshot's well-formed orders, and what its ill-typed ones still tell."""
    index, orders = StoreIndex(distinct=snapshot.orders), snapshot.orders
    if may_repeat(token_series(orders.tokens), orders.ids):
        _index_repeats(index, orders)  # rare: only a broken store repeats a token or an id
    index.qty_by_sku = _qty_by_sku(index, orders)
    note_malformed(index, snapshot.malformed)
    return index


def note_malformed(index: StoreIndex, malformed: list) -> None:
    """Note what ill-typed orders still say: their tokens are stored, their skus' stock
    cannot be added up."""
    for bad in malformed:
        fields = bad if isinstance(bad, dict) else {}
        token, sku = fields.get("token"), fields.get("sku")
        if isinstance(token, str):
            index.malformed_tokens.add(token)
        index.uncertain_skus.add(sku if isinstance(sku, str) else ANY_SKU)


def _qty_by_sku(index: StoreIndex, orders) -> Counter:
    """Add up the stored qty of each sku (in numpy, unless a sum could pass int64)."""
    first = index.first_of_sku  # sku -> the position of its first order, which stands for it
    codes = np.fromiter(
        map(first.setdefault, orders.skus, itertools.count()), np.int64, len(orders)
    )
    qty = orders.qtys
    index.sku_at, index.qty = codes, qty
    if qty.dtype == object or largest(qty) > (2**62) // max(1, qty.size):
        totals: Counter = Counter()
        for _, sku, amount, _ in orders:
            totals[sku] += amount
        return totals
    sums = np.zeros(len(orders), np.int64)
    np.add.at(sums, codes, qty)
    return Counter({sku: int(sums[at]) for sku, at in first.items()})


def largest(values: np.ndarray) -> int:
    """Return the largest magnitude among int64 values, as a Python int (np.abs would
    leave -2**63 negative, and a sum guarded by it would wrap)."""
    return max(int(values.max()), -int(values.min())) if values.size else 0


def _index_repeats(index: StoreIndex, orders) -> None:
    """Index orders one by one, the first of each token kept, every repeat listed apart."""
    by_token: dict = {}
    by_id: dict = {}
    for order in orders:
        _put(by_token, index.repeated_tokens, order[TOKEN], order)
        _put(by_id, index.repeated_ids, order[ID], order)
    index.distinct = Orders.from_tuples(list(by_token.values()))
    index.__dict__["by_token"] = by_token  # already built: the cached property's value


def _put(first: dict, repeats: dict, key, order) -> None:
    if key in first:
        if key not in repeats:
            repeats[key].append(first[key])
        repeats[key].append(order)
    else:
        first[key] = order


class Join:
    """What the store holds, per history token; what the history says, per stored order."""

    def __init__(self, facts, index, snapshot):
        self.facts, self.index, self.snapshot = facts, index, snapshot

    def _codes(self, tokens) -> np.ndarray:
        return self.facts.writes.tokens.lookup(tokens)

    @cached_property
    def stored_codes(self) -> np.ndarray:
        """Return the code of each distinct stored token, in the store's order (NONE: unsent)."""
        return self._codes(self.index.distinct.tokens)

    @cached_property
    def in_store(self) -> np.ndarray:
        """Return per token whether a well-formed stored order holds it."""
        found = np.zeros(len(self.facts.writes.tokens), bool)
        codes = self.stored_codes
        found[codes[codes != NONE]] = True
        return found

    @cached_property
    def held(self) -> np.ndarray:
        """Return per token whether the store holds it at all, in an ill-typed order too."""
        found = self.in_store.copy()
        for token in self.index.malformed_tokens:
            code = self.facts.code(token)
            if code != NONE:
                found[code] = True
        return found

    def per_stored(self, values: np.ndarray, missing) -> np.ndarray:
        """Return a per-token array's value for each distinct stored token (missing: unsent)."""
        codes = self.stored_codes
        if values.size == 0:
            return np.full(codes.size, missing, dtype=values.dtype)
        return np.where(codes != NONE, values[np.maximum(codes, 0)], missing)

    def mismatched(self) -> list[int]:
        """Return the positions of stored orders whose sku or qty is not what was sent."""
        orders, facts = self.snapshot.orders, self.facts
        if not orders or not facts.writes.tokens:
            return []
        if len(orders) == len(self.index.distinct):  # no repeats: the same tokens, in order
            codes = self.stored_codes
        else:
            codes = self._codes(orders.tokens)
        sent_sku, sent_qty = facts.sent_skus_and_qtys()
        at = np.maximum(codes, 0)
        compared = (codes != NONE) & (sent_sku[at] != NONE)
        wrong = compared & (
            (sent_sku[at] != self._history_skus()) | (sent_qty[at] != self.index.qty)
        )
        return np.flatnonzero(wrong).tolist()

    def _history_skus(self) -> np.ndarray:
        """Return each stored order's sku as the history's sku code (-2: a sku no one sent)."""
        first, skus = self.index.first_of_sku, self.facts.writes.skus
        table = np.full(len(self.snapshot.orders), -2, np.int64)  # by first order's position
        table[list(first.values())] = [skus.get(sku, -2) for sku in first]
        return table[self.index.sku_at]

    def resurrected(self) -> list[int]:
        """Return the codes of tokens cancelled ok and still stored (under the cancelled id)."""
        facts, writes = self.facts, self.facts.writes
        candidates = np.flatnonzero((facts.cancelled == OK) & self.in_store)
        if candidates.size == 0:
            return []
        stored_ids = self.index.distinct.ids
        codes = self.stored_codes
        sent = codes != NONE
        stored_id = np.zeros(len(writes.tokens), stored_ids.dtype)
        stored_id[codes[sent]] = stored_ids[sent]
        cancels = facts.cancel[candidates]
        # A cancel that named no id removed whatever the token held; one that named an id
        # is contradicted only by an order still stored under that id.
        same = ~writes.has_id[cancels] | (writes.order_id[cancels] == stored_id[candidates])
        return candidates[same].tolist()

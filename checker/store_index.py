"""The store's orders indexed once: each token's first order, repeats, qty by sku.

The checks join it with the history's facts (checker/facts.py, checker/join.py).
"""

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from checker.orders import Orders
from checker.sorting import stable_order


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
    # Per stored order, computed while a second process reads the history's tail: its
    # token's hash, the position of the first order of its sku, and its qty; and the orders
    # in the order of their hashes (the match to the history asks in that order).
    token_hashes: np.ndarray = None
    by_hash: np.ndarray = None
    sku_at: np.ndarray = None
    qty: np.ndarray = None
    first_of_sku: dict = field(default_factory=dict)  # sku -> the position of its first order

    def stock_known(self, sku) -> bool:
        """Say whether every stored order of sku could be counted."""
        return ANY_SKU not in self.uncertain_skus and sku not in self.uncertain_skus

    @cached_property
    def by_token(self) -> dict:
        """Return token -> its first order, built on first use: only examples look one up."""
        return dict(zip(self.distinct.tokens, self.distinct, strict=True))


ANY_SKU = object()


def index_store(snapshot, may_repeat=None) -> StoreIndex:
    """Index a snapshot's well-formed orders, and what its ill-typed ones still tell.

    may_repeat(orders) says whether two orders may share a token or an id; without it,
    the tokens' hashes are sorted to tell (and kept, for the match to the history).
    """
    index, orders = StoreIndex(distinct=snapshot.orders), snapshot.orders
    if may_repeat is None:
        index.token_hashes = np.fromiter(map(hash, orders.tokens), np.int64, len(orders))
        index.by_hash, sorted_hashes = stable_order(index.token_hashes)
        repeats = _may_repeat(sorted_hashes, orders)
    else:
        repeats = may_repeat(orders)
    if repeats:
        _index_repeats(index, orders)  # rare: only a broken store repeats a token or an id
    index.qty_by_sku = _qty_by_sku(index, orders)
    for bad in snapshot.malformed:
        fields = bad if isinstance(bad, dict) else {}
        token, sku = fields.get("token"), fields.get("sku")
        if isinstance(token, str):
            index.malformed_tokens.add(token)
        index.uncertain_skus.add(sku if isinstance(sku, str) else ANY_SKU)
    return index


def _may_repeat(sorted_hashes: np.ndarray, orders) -> bool:
    """Say whether two orders may share a token or an id; two tokens sharing a hash count.

    Sorting hashes and ids in numpy costs a fraction of a dictionary of 800,000 tokens (and
    far less at 8M, where the dictionary's inserts miss the cache); a true repeat, or the
    rare shared hash, is then settled exactly by _index_repeats.
    """
    count, ids = len(orders), orders.ids
    if _neighbours_equal(sorted_hashes):
        return True
    if ids.dtype == object:  # an id beyond int64: Python compares them
        return len(set(ids.tolist())) < count
    return _repeats(ids)


def _repeats(values: np.ndarray) -> bool:
    """Say whether any value occurs twice (by sorting: numpy 2's hashing np.unique is slower)."""
    return _neighbours_equal(np.sort(values, kind="stable"))  # a store's ids are in order


def _neighbours_equal(ordered: np.ndarray) -> bool:
    return bool((ordered[1:] == ordered[:-1]).any())


def _qty_by_sku(index: StoreIndex, orders) -> Counter:
    """Add up the stored qty of each sku (in numpy, unless a sum could pass int64)."""
    first = index.first_of_sku  # sku -> the position of its first order, which stands for it
    codes = np.fromiter(
        map(first.setdefault, orders.skus, itertools.count()), np.int64, len(orders)
    )
    qty = orders.qtys
    index.sku_at, index.qty = codes, qty
    if qty.dtype == object or (qty.size and int(np.abs(qty).max()) > (2**62) // qty.size):
        totals = Counter()
        for _, sku, amount, _ in orders:
            totals[sku] += amount
        return totals
    sums = np.zeros(len(orders), np.int64)
    np.add.at(sums, codes, qty)
    return Counter({sku: int(sums[at]) for sku, at in first.items()})


def _index_repeats(index: StoreIndex, orders) -> None:
    """Index orders one by one, the first of each token kept, every repeat listed apart."""
    by_token, by_id = {}, {}
    for order in orders:
        _put(by_token, index.repeated_tokens, order[3], order)
        _put(by_id, index.repeated_ids, order[0], order)
    index.distinct = Orders.from_tuples(list(by_token.values()))
    index.__dict__["by_token"] = by_token  # already built: the cached property's value


def _put(first: dict, repeats: dict, key, order) -> None:
    if key in first:
        if key not in repeats:
            repeats[key].append(first[key])
        repeats[key].append(order)
    else:
        first[key] = order

"""The store's orders indexed once: each token's first order, repeats, qty by sku.

The checks join it with the history's facts (checker/facts.py, checker/join.py).
"""

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from checker.columns import unset
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
    for bad in snapshot.malformed:
        fields = bad if isinstance(bad, dict) else {}
        token, sku = fields.get("token"), fields.get("sku")
        if isinstance(token, str):
            index.malformed_tokens.add(token)
        index.uncertain_skus.add(sku if isinstance(sku, str) else ANY_SKU)
    return index


def _qty_by_sku(index: StoreIndex, orders) -> Counter:
    """Add up the stored qty of each sku (in numpy, unless a sum could pass int64)."""
    first = index.first_of_sku  # sku -> the position of its first order, which stands for it
    codes = np.fromiter(
        map(first.setdefault, orders.skus, itertools.count()), np.int64, len(orders)
    )
    qty = orders.qtys
    index.sku_at, index.qty = codes, qty
    if qty.dtype == object or (qty.size and int(np.abs(qty).max()) > (2**62) // qty.size):
        totals: Counter = Counter()
        for _, sku, amount, _ in orders:
            totals[sku] += amount
        return totals
    sums = np.zeros(len(orders), np.int64)
    np.add.at(sums, codes, qty)
    return Counter({sku: int(sums[at]) for sku, at in first.items()})


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

"""The store's orders matched to the history's tokens, as arrays the checks share.

Each stored order's token is looked up once (through map, at C speed) to find its code in
the history; every check that asks "is this token stored?" or "what did its client send?"
then reads an array instead of a dictionary per token.
"""

import itertools
from functools import cached_property
from operator import itemgetter

import numpy as np

from checker.columns import NONE, OK, ints


class Join:
    """What the store holds, per history token; what the history says, per stored order."""

    def __init__(self, facts, index, snapshot):
        self.facts, self.index, self.snapshot = facts, index, snapshot

    def _codes(self, tokens, count: int) -> np.ndarray:
        return self.facts.writes.tokens.lookup(tokens, count)

    @cached_property
    def stored_codes(self) -> np.ndarray:
        """Return the code of each distinct stored token, in the store's order (NONE: unsent)."""
        return self._codes(self.index.by_token, len(self.index.by_token))

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
        if len(orders) == len(self.index.by_token):  # no repeats: the same tokens, in order
            codes = self.stored_codes
        else:
            codes = self._codes(map(itemgetter(3), orders), len(orders))
        sent_sku, sent_qty = facts.sent_skus_and_qtys()
        at = np.maximum(codes, 0)
        compared = (codes != NONE) & (sent_sku[at] != NONE)
        skus = facts.writes.skus
        sku = np.fromiter(map(skus.get, map(itemgetter(1), orders), itertools.repeat(-2)),
                          np.int64, len(orders))  # fmt: skip
        qty, _ = ints(tuple(map(itemgetter(2), orders)))
        wrong = compared & ((sent_sku[at] != sku) | (sent_qty[at] != qty))
        return np.flatnonzero(wrong).tolist()

    def resurrected(self) -> list[int]:
        """Return the codes of tokens cancelled ok and still stored (under the cancelled id)."""
        facts, writes = self.facts, self.facts.writes
        candidates = np.flatnonzero((facts.cancelled == OK) & self.in_store)
        if candidates.size == 0:
            return []
        stored_ids, _ = ints(tuple(order[0] for order in self.index.by_token.values()))
        codes = self.stored_codes
        sent = codes != NONE
        stored_id = np.zeros(len(writes.tokens), stored_ids.dtype)
        stored_id[codes[sent]] = stored_ids[sent]
        cancels = facts.cancel[candidates]
        # A cancel that named no id removed whatever the token held; one that named an id
        # is contradicted only by an order still stored under that id.
        same = ~writes.has_id[cancels] | (writes.order_id[cancels] == stored_id[candidates])
        return candidates[same].tolist()

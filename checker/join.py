"""The store's orders matched to the history's tokens, as arrays the checks share.

Each stored order's token is looked up once (by hash in polars, checker/engine.py) to find
its code in the history; every check that asks "is this token stored?" or "what did its
client send?" then reads an array instead of a dictionary per token.
"""

from functools import cached_property

import numpy as np

from checker.columns import NONE, OK


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

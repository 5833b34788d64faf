"""One partition of a large order history, checked by the in-memory engine's own pieces.

Every write and stored order of a token lands in one partition (checker/partitions.py),
so its facts (checker/facts.py), its store index and join (checker/store_index.py) and
the finds of checker/anomalies.py are whole there. Each class's findings come back keyed
by the order the in-memory check lists them in, over the whole history and store.
"""

import threading
from collections import Counter
from typing import cast

import numpy as np
import polars as pl

from checker.checks import Context
from checker.columns import FAIL, INFO, NONE, OK
from checker.engine import Blocks
from checker.facts import facts_from
from checker.orders import Orders, Snapshot
from checker.partitions import HistoryParts, StoreParts
from checker.store_index import index_store
from checker.sweep import ALONE
from checker.tokens import Tokens


class Partition:
    """One partition's writes and orders, checked by the in-memory engine's own pieces."""

    def __init__(self, number: int, history, snapshot: Snapshot, fetch):
        self.number, self.history, self.snapshot, self.fetch = number, history, snapshot, fetch
        self.totals: Counter = Counter()

    def read(self, history_parts: HistoryParts, store_parts: StoreParts, malformed) -> None:
        """Read the partition's writes and orders back, in history and store order."""
        writes = history_parts.writes.read(self.number)
        blocks = Blocks()
        self.index = np.zeros(0, np.int64)
        if writes is not None:
            self.index = writes.drop_in_place("index").to_numpy()
            blocks.add(writes)
        self.facts = facts_from(self.history, blocks.columns(), self.fetch)
        orders = store_parts.orders.read(self.number)
        self.positions, stored = orders_of(orders)
        part = Snapshot(
            self.snapshot.path,
            self.snapshot.backend,
            items=self.snapshot.items,
            orders=stored,
            shifts=self.snapshot.shifts,
        )
        store = index_store(part)
        store.malformed_tokens.update(malformed)
        self.ctx = Context(snapshot=part, index=store, facts=self.facts, history=self.history)

    def find(self, limit: int) -> dict:
        """Return this partition's findings of each per-token class: (count, the first
        limit as (key, subject))."""
        facts, join = self.facts, self.ctx.join
        lost = (facts.created == OK) & (facts.cancelled < INFO) & ~join.held
        resurrected = np.asarray(join.resurrected(), np.int64)
        wrong = join.mismatched()
        orders = self.ctx.snapshot.orders
        unexpected = np.flatnonzero(join.per_stored(facts.created, NONE) <= FAIL)
        distinct = self._distinct_positions()
        self.totals.update(_counted(facts.counts))
        self.totals["recovered"] += int(((facts.created == INFO) & join.in_store).sum())
        return {
            "lost": self._by_first_write(np.flatnonzero(lost), limit),
            "resurrected": self._by_first_write(resurrected, limit),
            "corrupt_record": (
                len(wrong),
                [(int(self.positions[w]), orders[w]) for w in wrong[:limit]],
            ),
            "unexpected": (
                int(unexpected.size),
                [
                    (int(distinct[u]), self.ctx.index.distinct[u])
                    for u in unexpected[:limit].tolist()
                ],
            ),
            "duplicated": (len(self.ctx.index.repeated_tokens), self._repeats()),
        }

    def _by_first_write(self, codes: np.ndarray, limit: int) -> tuple[int, list]:
        """Return (how many codes, (the history place of its first write, token) for the
        first limit of them by that place)."""
        first = cast(Tokens, self.facts.writes.tokens).first  # polars read every partition
        keys = self.index[first[codes]]
        order = np.argsort(keys, kind="stable")[:limit]
        names = self.facts.writes.tokens.names(codes[order])  # in order of first write
        return int(codes.size), list(zip(keys[order].tolist(), names, strict=True))

    def _distinct_positions(self) -> np.ndarray:
        """Return the store position of each distinct stored token's first order."""
        tokens = self.ctx.snapshot.orders.tokens
        if len(self.ctx.index.distinct) == len(tokens):
            return self.positions
        return self.positions[token_first(tokens)]

    def _repeats(self) -> list:
        """Return (the store position of its second order, (token, its orders)) per token
        stored more than once (the in-memory index lists them in that order)."""
        repeats = self.ctx.index.repeated_tokens
        if not repeats:
            return []
        seen: Counter = Counter()
        keyed = []
        tokens = self.ctx.snapshot.orders.tokens
        for at, token in enumerate(tokens.to_list()):
            if token in repeats:
                seen[token] += 1
                if seen[token] == 2:
                    keyed.append((int(self.positions[at]), (token, repeats[token])))
        return keyed

    def spans(self, groups: "SkuGroups") -> dict:
        """Return the partition's spans for the contention measure and the examples, each
        write's group numbered by its sku's name over all partitions."""
        writes, group = self.facts.writes, self.facts.sku.astype(np.int64)
        names = writes.sku_names
        table = groups.codes(names)
        own = (group >= 0) & (group < len(names))
        global_group = np.where(
            own,
            table[np.minimum(np.maximum(group, 0), table.size - 1)],
            np.where(group >= len(names), ALONE, group),
        )
        sent = global_group != -1
        self.totals["sent"] += int(sent.sum())
        self.totals["alone"] += int(((global_group == ALONE) & (writes.t1 > writes.t0)).sum())
        self.longest = float((writes.t1 - writes.t0).max()) if writes.t0.size else None
        return {
            "t0": writes.t0,
            "t1": writes.t1,
            "index": self.index,
            "locator": writes.locator.astype(np.int64),
            "group": global_group.astype(np.int32),
        }


def token_first(tokens: pl.Series) -> np.ndarray:
    """Return where each distinct token first appears, in order."""
    return np.flatnonzero(tokens.is_first_distinct().to_numpy())


def orders_of(frame: pl.DataFrame | None) -> tuple[np.ndarray, Orders]:
    """Return a partition's orders (and their places in the store) from its rows."""
    if frame is None:
        return np.zeros(0, np.int64), Orders()
    stored = Orders(
        frame["id"].to_numpy(), frame["sku"].to_list(), frame["qty"].to_numpy(), frame["token"]
    )
    return frame["position"].to_numpy(), stored


def _counted(counts: dict) -> Counter:
    return Counter(
        {(op, outcome): n for op, found in counts.items() for outcome, n in found.items()}
    )


class SkuGroups:
    """Each sku's group over all partitions, numbered as partitions name them."""

    def __init__(self):
        self._codes: dict = {}
        self._lock = threading.Lock()

    def codes(self, names: list) -> np.ndarray:
        """Return the group of each sku name (a partition's skus, in its code order)."""
        with self._lock:
            return np.array([self._codes.setdefault(n, len(self._codes)) for n in names] or [0],
                            np.int64)  # fmt: skip

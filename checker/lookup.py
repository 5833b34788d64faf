"""What the examples of a partitioned check ask of the whole history and store: a
token's writes and first order looked up in its partition, the writes that overlapped one
in the sorted runs (checker/sweep.py), and the ids handed to two tokens or stored twice,
from the id partitions (checker/partitions.py)."""

import numpy as np
import polars as pl

from checker.engine import Blocks
from checker.facts import HistoryFacts, facts_from
from checker.partition import orders_of
from checker.partitions import HistoryParts, StoreParts, token_part
from checker.sweep import overlapping


class Lookup:
    """What the examples ask of the history and the store, for any token: its writes and
    orders looked up in its partition, the overlapping writes in the runs."""

    def __init__(self, history, history_parts, store_parts, fetch, runs, totals, longest):
        self.history_parts, self.store_parts = history_parts, store_parts
        self.fetch, self.runs, self.history = fetch, runs, history
        self.initial = dict(history.run["items"])
        self.longest = longest
        ops = ("creates", "cancels")
        self.counts = {op: {o: totals[(op, o)] for o in ("fail", "info", "ok")} for op in ops}
        self.collisions = _acked_collisions(history_parts)
        self._tokens: dict = {}
        self._spans: dict = {}  # global index -> (locator, t0, t1), for what was looked up

    def _facts(self, token) -> HistoryFacts:
        """Return one token's facts, from its writes alone."""
        if token not in self._tokens:
            number = int(
                token_part(pl.Series([token], dtype=pl.String), self.history_parts.parts)[0]
            )
            writes = self.history_parts.writes.read(number)
            blocks, indices = Blocks(), np.zeros(0, np.int64)
            if writes is not None:
                writes = writes.filter(pl.col("token") == token)
                indices = writes.drop_in_place("index").to_numpy()
                blocks.add(writes)
            facts = facts_from(self.history, blocks.columns(), self.fetch)
            for i, at in enumerate(indices.tolist()):
                self._spans[at] = (
                    int(facts.writes.locator[i]),
                    float(facts.t0[i]),
                    float(facts.t1[i]),
                )
            self._tokens[token] = (facts, indices.tolist())
        return self._tokens[token][0]

    def write_indices(self, token) -> list[int]:
        """Return the places in the history of token's writes, in history order."""
        self._facts(token)
        return self._tokens[token][1]

    def record(self, index: int) -> dict:
        return self.fetch(self._spans[index][0])

    def overlapping(self, index: int, limit: int = 5) -> list[dict]:
        locator, t0, t1 = self._spans[index]
        del locator
        found = overlapping(self.runs, (index, t0, t1), self.longest, limit)
        return [self.fetch(at) for at in found]

    def acked_id(self, token):
        return self._facts(token).acked_id(token)

    def sent(self, token) -> tuple:
        return self._facts(token).sent(token)

    def outcome(self, token):
        return self._facts(token).outcome(token)


class StoredOrders:
    """token -> its first stored order, looked up in its partition (StoreIndex.by_token)."""

    def __init__(self, store_parts: StoreParts):
        self.store_parts = store_parts

    def get(self, token):
        number = int(token_part(pl.Series([token], dtype=pl.String), self.store_parts.parts)[0])
        frame = self.store_parts.orders.read(number)
        if frame is None:
            return None
        frame = frame.filter(pl.col("token") == token)
        return None if frame.is_empty() else orders_of(frame.head(1))[1][0]

    def __contains__(self, token) -> bool:
        return self.get(token) is not None

    def __getitem__(self, token):
        order = self.get(token)
        if order is None:
            raise KeyError(token)
        return order


def _acked_collisions(history_parts: HistoryParts) -> dict:
    """Return id -> sorted tokens, for every id that ok answers gave to more than one token."""
    return _clashes(history_parts.acked, history_parts.parts, "order_id", pl.col("token").unique())


def stored_collisions(store_parts: StoreParts) -> dict:
    """Return id -> the sorted tokens of its orders, for every id stored more than once."""
    return _clashes(store_parts.ids, store_parts.parts, "id", pl.col("token"))


def _clashes(spool, parts: int, key: str, tokens: pl.Expr) -> dict:
    """Return each key whose rows give more than one of tokens, with those tokens (each
    once, sorted), from a spool partitioned by that key."""
    found = {}
    for number in range(parts):
        frame = spool.read(number)
        if frame is None:
            continue
        clashes = frame.group_by(key).agg(tokens).filter(pl.col("token").list.len() > 1)
        for value, named in clashes.iter_rows():
            found[value] = sorted(set(named))
    return found

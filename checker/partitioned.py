"""A large order history checked a partition of tokens at a time, in bounded memory.

The history's writes and the store's orders are written to disk by token hash
(checker/partitions.py); each partition is then checked alone by the in-memory engine's
own pieces (checker/facts.py, store_index.py, the finds of anomalies.py), which is exact
because every write and order of a token lands in its partition. What is not per token
is done over all of them: the ids by their own partitions, the stock by sku, the
contention measure and the examples' overlapping writes over sorted runs on disk
(checker/sweep.py). Each class keeps its first few findings by the key the in-memory
check orders them by (a token's first write, an order's place in the store), and only
those are described, each token's records looked up in its partition. The report is the
in-memory check's, byte for byte (tests/test_partitioned.py).
"""

import heapq
import tempfile
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from checker import anomalies
from checker.checks import Context
from checker.columns import FAIL, INFO, NONE, OK
from checker.engine import Blocks, LineReader
from checker.facts import HistoryFacts, facts_from
from checker.orders import Orders, Snapshot
from checker.partitions import (
    HistoryParts,
    NotPartitioned,
    StoreParts,
    read_store_parts,
    token_part,
)
from checker.report import Background, doubtful, empty_report, run_checks
from checker.sql_store import IntegrityCheck, is_postgres_store
from checker.store_index import StoreIndex, index_store, note_malformed
from checker.stores import read_store
from checker.sweep import ALONE, Runs, measure, overlapping, save_spans
from checker.tokens import Tokens
from shapes.reports import CheckReport, composed

# The classes found a partition at a time; the others read the whole store's figures.
PER_TOKEN = ("corrupt_record", "lost", "duplicated", "unexpected", "resurrected")
WORKERS = 2  # partitions checked at once


def check_partitioned(store_path, history, examples: int, parts: int):
    """Check a store file against a history file a partition at a time; return (the report
    before its verdict, the contention figures), or None for input checked in memory
    (checker/partitions.py says which, and a disk with no room for the partitions)."""
    try:
        return _partitioned(store_path, history, examples, parts)
    except OSError:  # the partitions would not fit under TMPDIR: in memory, as it may
        return None


def _partitioned(store_path, history, examples: int, parts: int):
    with tempfile.TemporaryDirectory(prefix="racelab-check-") as work:
        folder = Path(work)
        history_parts, store_parts = HistoryParts(folder, parts), StoreParts(folder, parts)
        reading = Background(history_parts.read, history.path)
        try:
            snapshot = _read_store(store_path, store_parts)
            reading.result()
        except NotPartitioned:
            return None
        finally:  # never a thread still writing into a folder being removed
            history_parts.stopped.set()
            reading.wait()
        return _checked(folder, history, snapshot, history_parts, store_parts, examples)


def _read_store(store_path, store_parts: StoreParts) -> Snapshot:
    """Read the store into its partitions; its integrity checked as the in-memory read does."""
    if is_postgres_store(store_path):
        return store_parts.take(read_store(store_path))
    snapshot = read_store_parts(store_path, store_parts)
    if snapshot.backend == "sqlite":
        checked = IntegrityCheck(snapshot.path).applied(snapshot)
        if checked is not snapshot:
            raise NotPartitioned("store.db failed to open for its integrity check")
    return snapshot


@dataclass
class Found:
    """One class's count and its first few findings by key (the in-memory check's order)."""

    limit: int
    count: int = 0
    first: list = field(default_factory=list)  # (key, subject)

    def add(self, count: int, keyed) -> None:
        """Add a partition's count and its findings, keeping the first limit by key."""
        self.count += count
        self.first = heapq.nsmallest(self.limit, [*self.first, *keyed], key=lambda k: k[0])

    @property
    def subjects(self) -> list:
        return [subject for _, subject in self.first]


def _checked(folder, history, snapshot, history_parts, store_parts, examples):
    """Check every partition, then the store as a whole; return (report, contention)."""
    fetch = LineReader(history.path, spill=folder / "line_starts")
    shared = _Shared(history, snapshot, fetch.record, history_parts, store_parts,
                     Runs(folder / "runs"), examples)  # fmt: skip
    found = {name: Found(examples) for name in PER_TOKEN}
    totals: Counter = Counter()
    longest = None  # the longest span of any write (where the examples' overlaps begin)
    # Two partitions at a time: polars and numpy let go of the GIL for most of the work.
    pool = ThreadPoolExecutor(WORKERS)
    try:
        for findings, counted, part_longest in pool.map(shared.check, range(history_parts.parts)):
            for name, (count, keyed) in findings.items():
                found[name].add(count, keyed)
            totals += counted
            if part_longest is not None:
                longest = part_longest if longest is None else max(longest, part_longest)
    finally:  # on an error or Ctrl-C, the partitions not begun are not checked
        pool.shutdown(cancel_futures=True)
    lookup = Lookup(history, history_parts, store_parts, fetch.record, shared.runs, totals,
                    0.0 if longest is None else longest)  # fmt: skip
    measuring = Background(measure, shared.runs, totals["sent"], bool(totals["alone"]))
    try:
        report = _report(snapshot, history, lookup, store_parts, found, examples)
    finally:
        measuring.wait()
    report.recovered = totals["recovered"]
    return report, measuring.result()


@dataclass
class _Shared:
    """What every partition's check reads, and the runs they save."""

    history: object
    snapshot: Snapshot
    fetch: object
    history_parts: HistoryParts
    store_parts: StoreParts
    runs: Runs
    limit: int
    groups: "SkuGroups" = field(default_factory=lambda: SkuGroups())
    malformed: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.malformed = _malformed_tokens(self.snapshot.malformed, self.history_parts.parts)

    def check(self, number: int) -> tuple[dict, Counter, float | None]:
        """Check one partition; return its findings, its totals and its longest span."""
        part = _Partition(number, self.history, self.snapshot, self.fetch)
        part.read(self.history_parts, self.store_parts, self.malformed.get(number, ()))
        findings = part.find(self.limit)
        save_spans(self.runs, number, part.spans(self.groups))
        return findings, part.totals, part.longest


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


def _malformed_tokens(malformed: list, parts: int) -> dict:
    """Return partition -> the tokens ill-typed stored orders still name there."""
    tokens = [b.get("token") for b in malformed if isinstance(b, dict)]
    named = [t for t in tokens if isinstance(t, str) and _utf8(t)]
    found: dict = {}
    numbers = token_part(pl.Series(named, dtype=pl.String), parts).to_list()
    for token, number in zip(named, numbers, strict=True):
        found.setdefault(number, set()).add(token)
    return found


def _utf8(text: str) -> bool:
    """Say whether text is UTF-8 (a lone surrogate is not: no history token polars read)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class _Partition:
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
        self.positions, stored = _orders(orders)
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


def _orders(frame: pl.DataFrame | None) -> tuple[np.ndarray, Orders]:
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
        return None if frame.is_empty() else _orders(frame.head(1))[1][0]

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


def _stored_collisions(store_parts: StoreParts) -> dict:
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


def _store_index(snapshot: Snapshot, store_parts: StoreParts) -> StoreIndex:
    """Return the whole store's index as the global checks read it (qty by sku, what the
    ill-typed orders say), its orders looked up by token."""
    index = StoreIndex(qty_by_sku=store_parts.qty_by_sku)
    note_malformed(index, snapshot.malformed)
    index.__dict__["by_token"] = StoredOrders(store_parts)
    return index


def _report(snapshot, history, lookup, store_parts, found, limit) -> CheckReport:
    """Compose the report as checker/report.py's _report does, from what was found (its
    recovered count is the caller's)."""
    ctx = Context(
        snapshot=snapshot,
        index=_store_index(snapshot, store_parts),
        facts=lookup,
        history=history,
    )
    ctx.__dict__["leaves"], ctx.__dict__["reads"] = [], []
    report = empty_report(snapshot, history, lookup.counts, store_parts.count)
    stored = _stored_collisions(store_parts)
    found_fns = {
        "corrupt_record": partial(_corrupt_record, found["corrupt_record"]),
        "lost": partial(_described, found["lost"], anomalies.lost_example),
        "duplicated": partial(_described, found["duplicated"], _duplicated_example),
        "id_collision": lambda c, n: anomalies.collisions(c, stored, lookup.collisions, n),
        "unexpected": partial(_described, found["unexpected"], anomalies.unexpected_example),
        "resurrected": partial(_described, found["resurrected"], anomalies.resurrected_example),
    }
    run_checks(report, ctx, limit, found_fns)
    report.valid = composed(any(report.anomalies.values()), doubtful(report))
    return report


def _described(found: Found, describe, ctx: Context, limit: int):
    """Return a per-token class's count and its first findings, described."""
    return found.count, [describe(ctx, subject) for subject in found.subjects[:limit]]


def _duplicated_example(ctx: Context, subject) -> dict:
    token, orders = subject
    return anomalies.duplicated_example(ctx, token, orders)


def _corrupt_record(found: Found, ctx: Context, limit: int):
    """The ill-typed orders, then the orders stored otherwise than sent (as corrupt_record)."""
    examples = [anomalies.malformed_example(bad) for bad in ctx.snapshot.malformed[:limit]]
    orders = found.subjects[: max(0, limit - len(examples))]
    examples += [anomalies.mismatched_example(ctx, order) for order in orders]
    return len(ctx.snapshot.malformed) + found.count, examples

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
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import polars as pl

from checker import anomalies
from checker.checks import Context
from checker.compose import Background, doubtful, empty_report, run_checks
from checker.engine import LineReader
from checker.lookup import Lookup, StoredOrders, stored_collisions
from checker.orders import Snapshot
from checker.partition import Partition, SkuGroups
from checker.partitions import (
    HistoryParts,
    NotPartitioned,
    StoreParts,
    read_store_parts,
    token_part,
)
from checker.sql_store import IntegrityCheck, is_postgres_store
from checker.store_index import StoreIndex, note_malformed
from checker.stores import read_store
from checker.sweep import Runs, measure, save_spans
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
    groups: SkuGroups = field(default_factory=SkuGroups)
    malformed: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.malformed = _malformed_tokens(self.snapshot.malformed, self.history_parts.parts)

    def check(self, number: int) -> tuple[dict, Counter, float | None]:
        """Check one partition; return its findings, its totals and its longest span."""
        part = Partition(number, self.history, self.snapshot, self.fetch)
        part.read(self.history_parts, self.store_parts, self.malformed.get(number, ()))
        findings = part.find(self.limit)
        save_spans(self.runs, number, part.spans(self.groups))
        return findings, part.totals, part.longest


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
    stored = stored_collisions(store_parts)
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

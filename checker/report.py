"""Compose the checks into one report (checker/text.py formats it)."""

import msgspec

from checker import engine
from checker.api import READ_TIMEOUT_S, is_url, read_api
from checker.checks import Context
from checker.compose import Background, doubtful, empty_report, run_checks
from checker.contention import MIN_OVERLAPS, contention
from checker.facts import INFO, facts_from, history_facts
from checker.oncall import leave_records, spans_with_leaves
from checker.orders import Snapshot
from checker.partitions import partition_count
from checker.sql_store import IntegrityCheck
from checker.store_index import index_store
from checker.stores import read_store
from shapes.reports import (
    CheckReport,
    Contention,
    Verdict,
    composed,
)

DEFAULT_EXAMPLES = 3


def check(
    store_path,
    history=None,
    examples: int = DEFAULT_EXAMPLES,
    min_overlaps: int = MIN_OVERLAPS,
    existing=frozenset(),
    read_timeout: float = READ_TIMEOUT_S,
    partitions: int | None = None,
) -> CheckReport:
    """Check the store at store_path against a history (or none); return the report.

    store_path is a store file, or a server's URL whose final state is read through the
    API (existing: orders it held before the run, left out; see checker/api.py). history
    is a parsed History or a HistoryStream (history). A store with no anomaly is `held`
    only if at least min_overlaps pairs of writes on one sku overlapped. A large history
    file is checked a partition of its tokens at a time (partitions: how many; None: by
    its size, checker/partitions.py), with the same report.
    """
    checked = _partitioned(store_path, history, examples, partitions)
    if checked is None:
        report, measured = _read_and_check(store_path, history, examples, existing, read_timeout)
        figures = None if measured is None else measured.result()
    else:
        report, figures = checked
    report.contention = None if figures is None else msgspec.convert(figures, Contention)
    report.min_overlaps = min_overlaps
    report.verdict = _verdict(report)
    return report


def _partitioned(store_path, history, examples: int, partitions: int | None):
    """Return (report, contention figures) checked a partition at a time, or None when
    the history is checked in memory (small, not a file, or not the order workload's)."""
    path = getattr(history, "path", None)
    if path is None or is_url(store_path):
        return None
    parts = partition_count(path) if partitions is None else partitions
    if parts <= 1:
        return None
    from checker import partitioned  # noqa: PLC0415 - only a large history loads it

    return partitioned.check_partitioned(store_path, history, examples, parts)


def _read_and_check(
    store_path, history, examples, existing, read_timeout
) -> tuple[CheckReport, "Background | None"]:
    """Read the store and the history and run the checks; return (report, the contention
    measure under way, or None without a history).

    polars reads the history in its own threads while the store is read here (and a SQLite
    store's integrity is checked in a third); the contention measure, numpy's sorting and
    searching, runs in a thread while the checks run here.
    """
    reading = None if history is None else Background(engine.read_writes, history)
    if is_url(store_path):
        snapshot = read_api(store_path, existing, read_timeout)
    else:
        snapshot = read_store(store_path, integrity=False)
    integrity = IntegrityCheck(snapshot.path) if snapshot.backend == "sqlite" else None
    if integrity is not None:
        integrity.start()
    index = index_store(snapshot)
    read = None if reading is None else reading.result()
    facts = None if history is None else _facts(history, read)
    if integrity is not None and (checked := integrity.applied(snapshot)) is not snapshot:
        snapshot, index = checked, index_store(checked)  # unreadable after all: no orders
    if facts is None:
        return _report(snapshot, index, history, facts, examples), None
    # The leave records, read again by the lines polars found them on (none: no search).
    leaves = leave_records(history) if read is None else [facts.fetch(at) for at in read[2]]
    reads = None if read is None else read[3]  # None: found by a search when a check asks
    measured = Background(contention, *spans_with_leaves(facts.t0, facts.t1, facts.sku, leaves))
    return _report(snapshot, index, history, facts, examples, leaves, reads), measured


def _facts(history, read):
    """Return the history's facts from polars' read, or (read None: input polars could
    read otherwise than the careful reader) from the careful reader's."""
    return history_facts(history) if read is None else facts_from(history, *read[:2])


def _verdict(report: CheckReport) -> Verdict:
    """held, failed, unknown, or inconclusive: no anomaly, but too little contention to tell."""
    if report.valid is not True:
        return Verdict.FAILED if report.valid is False else Verdict.UNKNOWN
    overlaps = report.contention.overlaps if report.contention else 0
    return Verdict.HELD if overlaps >= report.min_overlaps else Verdict.INCONCLUSIVE


def _report(
    snapshot: Snapshot, index, history, facts, examples: int, leaves=None, reads=None
) -> CheckReport:
    """Run every check that has what it needs; compose the report (leaves and reads: the
    history's leave records and answered reads, when known already)."""
    ctx = Context(snapshot=snapshot, index=index, facts=facts, history=history)
    for name, known in (("leaves", leaves), ("reads", reads)):
        if known is not None:
            ctx.__dict__[name] = known  # the cached property's value: no search of the file
    report = empty_report(snapshot, history, None if facts is None else facts.counts)
    run_checks(report, ctx, examples)
    if facts is not None:
        report.recovered = int(((facts.created == INFO) & ctx.join.in_store).sum())
    report.valid = composed(any(report.anomalies.values()), doubtful(report))
    return report


EXIT_CODES = {Verdict.HELD: 0, Verdict.FAILED: 1, Verdict.UNKNOWN: 1, Verdict.INCONCLUSIVE: 3}


def exit_code(report: CheckReport) -> int:
    """Return 0 held, 1 failed or unknown, 3 inconclusive (2 is the CLI's bad usage)."""
    return EXIT_CODES[report.verdict]

"""The report composed from the checks: shared by the check made in memory
(checker/report.py) and the one made a partition at a time (checker/partitioned.py)."""

import threading

import msgspec

from checker.checks import CHECKS, Context
from checker.orders import Snapshot
from shapes.reports import CheckReport, Example, HistoryCounts, StoreInfo, Verdict


class Background:
    """Call fn(*args) in a thread; result() waits for its value (or raises its error)."""

    def __init__(self, fn, *args):
        self._value, self._error = None, None
        self._thread = threading.Thread(target=self._run, args=(fn, *args), daemon=True)
        self._thread.start()

    def _run(self, fn, *args) -> None:
        try:
            self._value = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the caller of result()
            self._error = e

    def wait(self) -> None:
        """Wait for the call to end, whatever it returns or raises."""
        self._thread.join()

    def result(self):
        """Wait for the call; return its value, or raise what it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def run_checks(report: CheckReport, ctx: Context, examples: int, found=None) -> None:
    """Run every check that has what it needs into report, in CHECKS' order; say why each
    other one was skipped (found: a check's name -> a function to run in its place)."""
    for name, (fn, needs, *_) in CHECKS.items():
        missing = missing_needs(needs, ctx)
        if missing:
            report.skipped.append(name)
            report.skipped_because[name] = missing
            continue
        run_check(report, name, (found or {}).get(name, fn), ctx, examples)


def missing_needs(needs, ctx: Context) -> str | None:
    if ctx.snapshot.unreadable and "state" in needs:
        return ctx.snapshot.unreadable
    if "file" in needs and ctx.snapshot.through_api:
        return "read through the API: damage in a file behind the server cannot be seen"
    if "history" in needs and ctx.facts is None:
        return "no history was given"
    if "items" in needs and ctx.snapshot.items is None:
        return "the store's items could not be read"
    if "shifts" in needs and ctx.snapshot.shifts is None:
        return "the store's on-call shifts were not read"
    if "reads" in needs and not ctx.reads:
        return "no read in the history recorded what it returned: stale reads were not checked"
    return None


def run_check(report: CheckReport, name: str, fn, ctx: Context, examples: int) -> None:
    """Run one check; a crash makes it unknown instead of stopping the others."""
    try:
        count, found = fn(ctx, examples)
    except Exception as e:  # noqa: BLE001 - Jepsen's safe wrapper: report, do not die
        report.errors[name] = f"{type(e).__name__}: {e}"
        return
    report.anomalies[name] = count
    if found:
        report.examples[name] = msgspec.convert(found, list[Example])


def doubtful(report: CheckReport) -> bool:
    """Say whether a check crashed or the store could not be read."""
    return bool(report.errors) or not report.store.readable


def empty_report(snapshot: Snapshot, history, counts, orders: int | None = None) -> CheckReport:
    """Return the report before any check ran: what was read, and no finding yet.

    counts: the history's writes counted by op and outcome (None: no history); orders:
    how many well-formed orders the store holds (None: the snapshot's own).
    """
    found = None
    if counts is not None:
        found = msgspec.convert({**counts, "skipped_lines": history.skipped}, HistoryCounts)
    return CheckReport(
        valid=True,
        store=_store_info(snapshot, orders),
        history=found,
        anomalies={},
        recovered=0,
        skipped=[],
        skipped_because={},
        examples={},
        errors={},
        contention=None,
        min_overlaps=0,
        verdict=Verdict.UNKNOWN,  # until check() judges it
    )


def _store_info(snapshot: Snapshot, orders: int | None = None) -> StoreInfo:
    """Return what the report says of the store: where, what, and how far it was read
    (orders: how many well-formed orders it holds, when they are not in the snapshot)."""
    held = len(snapshot.orders) if orders is None else orders
    return StoreInfo(
        path=snapshot.path,
        backend=snapshot.backend,
        readable=snapshot.readable_with(held),
        orders=held,
        error=snapshot.corruption or snapshot.unreadable,
        read="api" if snapshot.through_api else "file",
    )

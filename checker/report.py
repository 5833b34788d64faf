"""Compose the checks into one report (checker/text.py formats it)."""

import contextlib
import gc
import sys
import threading

from checker.api import READ_TIMEOUT_S, is_url, read_api
from checker.checks import CHECKS, Context
from checker.contention import MIN_OVERLAPS, contention
from checker.facts import INFO, facts_from, history_facts
from checker.integrity import IntegrityCheck
from checker.oncall import leave_records, spans_with_leaves
from checker.store_index import index_store
from checker.stores import read_store
from checker.tail import MIN_BYTES as TAIL_FROM
from checker.tail import start as start_tail

DEFAULT_EXAMPLES = 3


def check(
    store_path,
    history=None,
    examples: int = DEFAULT_EXAMPLES,
    min_overlaps: int = MIN_OVERLAPS,
    existing=frozenset(),
    read_timeout: float = READ_TIMEOUT_S,
    tail_from: int = TAIL_FROM,
    engine: str = "polars",
) -> dict:
    """Check the store at store_path against a history (or none); return the report.

    store_path is a store file, or a server's URL whose final state is read through the
    API (existing: orders it held before the run, left out; see checker/api.py). history
    is a parsed History or a HistoryStream (history). A store with no anomaly is `held`
    only if at least min_overlaps pairs of writes on one sku overlapped. A history file of at
    least tail_from bytes is read by two processes (checker/tail.py) when engine is
    "numpy"; "polars" (checker/engine.py) reads it in threads and gives the same report.
    """
    polars = engine == "polars" and history is not None
    tail = None if history is None or polars else start_tail(history, tail_from)
    read = _read_in_columns if polars else _read_and_check
    try:
        # The numpy engine pauses the collector; the polars one needs no process-wide switch.
        with contextlib.nullcontext() if polars else _collector_paused():
            report, measured = read(store_path, history, tail, examples, existing, read_timeout)
    except BaseException:
        if tail is not None:
            tail.cancel()
        raise
    report["contention"] = None if measured is None else measured.result()
    report["min_overlaps"] = min_overlaps
    report["verdict"] = _verdict(report)
    return report


def _read_and_check(store_path, history, tail, examples, existing, read_timeout) -> tuple:
    """Read the store and the history and run the checks; return (report, the contention
    measure under way, or None without a history).

    The contention measure needs only the history, and it is numpy's sorting and searching,
    which let go of the GIL: it runs in a thread while the checks run in Python here.
    """
    if is_url(store_path):
        snapshot = read_api(store_path, existing, read_timeout)
    else:
        snapshot = read_store(store_path, integrity=tail is None)
    integrity = _integrity_when_met(snapshot, tail)
    index = index_store(snapshot)  # before the history: the tail's child reads meanwhile
    facts = history_facts(history, tail) if history is not None else None
    if integrity is not None and (checked := integrity.applied(snapshot)) is not snapshot:
        snapshot, index = checked, index_store(checked)  # unreadable after all: no orders
    leaves = leave_records(history)  # before the measure: leaves of one shift contend too
    measured = None
    if facts is not None:
        spans = spans_with_leaves(facts.t0, facts.t1, facts.sku, leaves)
        measured = Background(contention, *spans)
    return _report(snapshot, index, history, facts, examples, leaves), measured


def _read_in_columns(store_path, history, tail, examples, existing, read_timeout) -> tuple:
    """As _read_and_check, the history read by polars in its threads while the store is
    read here (and a SQLite store's integrity is checked in a third)."""
    from checker import engine  # noqa: PLC0415 - polars, for a check with a history

    reading = Background(engine.read_writes, history, switch=False)  # polars lets go of the GIL
    if is_url(store_path):
        snapshot = read_api(store_path, existing, read_timeout)
    else:
        snapshot = read_store(store_path, integrity=False)
    integrity = IntegrityCheck(snapshot.path) if snapshot.backend == "sqlite" else None
    if integrity is not None:
        integrity.start()
    index = index_store(snapshot, engine.may_repeat)
    read = reading.result()
    # None: input polars could read otherwise than the careful reader, which reads it here.
    facts = history_facts(history) if read is None else facts_from(history, *read[:2])
    # The leave records, read again by the lines polars found them on (none: no search).
    leaves = leave_records(history) if read is None else [facts.fetch(at) for at in read[2]]
    reads = None if read is None else read[3]  # None: found by a search when a check asks
    if integrity is not None and (checked := integrity.applied(snapshot)) is not snapshot:
        snapshot, index = checked, index_store(checked, engine.may_repeat)
    spans = spans_with_leaves(facts.t0, facts.t1, facts.sku, leaves)
    measured = Background(contention, *spans, switch=False)
    try:
        return _report(snapshot, index, history, facts, examples, leaves, reads), measured
    finally:
        engine.forget()


def _integrity_when_met(snapshot, tail) -> IntegrityCheck | None:
    """Return a SQLite store's integrity check, to start when the history's readers meet
    and a core falls idle; None where read_store ran it (no second reader) or none applies.
    """
    if tail is None or snapshot.backend != "sqlite":
        return None
    integrity = IntegrityCheck(snapshot.path)
    tail.when_met = integrity.start
    return integrity


class Background:
    """Call fn(*args) in a thread; result() waits for its value (or raises its error)."""

    # Each numpy call the thread makes waits for the GIL until the main thread is asked to
    # let go of it, by default after 5 ms: at a hundred calls that ate the whole gain.
    SWITCH_S = 0.0005

    def __init__(self, fn, *args, switch: bool = True):
        """switch=False leaves the switch interval alone (fn lets go of the GIL itself)."""
        self._value, self._error = None, None
        self._switch = sys.getswitchinterval() if switch else None
        if switch:
            sys.setswitchinterval(min(self._switch, self.SWITCH_S))
        self._thread = threading.Thread(target=self._run, args=(fn, *args), daemon=True)
        self._thread.start()

    def _run(self, fn, *args) -> None:
        try:
            self._value = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the caller of result()
            self._error = e
        finally:
            if self._switch is not None:
                sys.setswitchinterval(self._switch)

    def result(self):
        """Wait for the call; return its value, or raise what it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _verdict(report: dict) -> str:
    """held, failed, unknown, or inconclusive: no anomaly, but too little contention to tell."""
    if report["valid"] is not True:
        return "failed" if report["valid"] is False else "unknown"
    overlaps = (report["contention"] or {}).get("overlaps", 0)
    return "held" if overlaps >= report["min_overlaps"] else "inconclusive"


@contextlib.contextmanager
def _collector_paused():
    """Pause the cyclic garbage collector while the store and history are indexed."""
    # Indexing makes no cycles, and full passes over millions of live tuples take seconds.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _report(snapshot, index, history, facts, examples: int, leaves=None, reads=None) -> dict:
    """Run every check that has what it needs; compose the report (leaves and reads: the
    history's leave records and answered reads, when known already)."""
    ctx = Context(snapshot=snapshot, index=index, facts=facts, history=history)
    for name, known in (("leaves", leaves), ("reads", reads)):
        if known is not None:
            ctx.__dict__[name] = known  # the cached property's value: no search of the file
    report = _empty_report(snapshot, history, facts)
    for name, (fn, needs, *_) in CHECKS.items():
        missing = _missing(needs, ctx)
        if missing:
            report["skipped"].append(name)
            report["skipped_because"][name] = missing
            continue
        _run_check(report, name, fn, ctx, examples)
    if facts is not None:
        report["recovered"] = int(((facts.created == INFO) & ctx.join.in_store).sum())
    report["valid"] = _validity(report)
    return report


def _missing(needs, ctx: Context) -> str | None:
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


def _run_check(report: dict, name: str, fn, ctx: Context, examples: int) -> None:
    """Run one check; a crash makes it unknown instead of stopping the others."""
    try:
        count, found = fn(ctx, examples)
    except Exception as e:  # noqa: BLE001 - Jepsen's safe wrapper: report, do not die
        report["errors"][name] = f"{type(e).__name__}: {e}"
        return
    report["anomalies"][name] = count
    if found:
        report["examples"][name] = found


def _validity(report: dict):
    """False beats unknown beats true."""
    if any(report["anomalies"].values()):
        return False
    if report["errors"] or not report["store"]["readable"]:
        return "unknown"
    return True


def _empty_report(snapshot, history, facts) -> dict:
    return {
        "valid": True,
        "store": {
            "path": snapshot.path,
            "backend": snapshot.backend,
            "readable": snapshot.readable,
            "orders": len(snapshot.orders),
            "error": snapshot.corruption or snapshot.unreadable,
            "read": "api" if snapshot.through_api else "file",
        },
        "history": None if facts is None else {**facts.counts, "skipped_lines": history.skipped},
        "anomalies": {},
        "recovered": 0,
        "skipped": [],
        "skipped_because": {},
        "examples": {},
        "errors": {},
    }


EXIT_CODES = {"held": 0, "failed": 1, "unknown": 1, "inconclusive": 3}


def exit_code(report: dict) -> int:
    """Return 0 held, 1 failed or unknown, 3 inconclusive (2 is the CLI's bad usage)."""
    return EXIT_CODES[report["verdict"]]

"""Compose the checks into one report; format it as a table or plain-word examples."""

import contextlib
import gc
import sys
import threading

from checker.api import READ_TIMEOUT_S, is_url, read_api
from checker.checks import CHECKS, Context
from checker.contention import MIN_OVERLAPS, contention
from checker.facts import INFO, history_facts, index_store
from checker.integrity import IntegrityCheck
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
) -> dict:
    """Check the store at store_path against a history (or none); return the report.

    store_path is a store file, or a server's URL whose final state is read through the
    API (existing: orders it held before the run, left out; see checker/api.py). history
    is a parsed History or a HistoryStream (history). A store with no anomaly is `held`
    only if at least min_overlaps pairs of writes on one sku overlapped. A history file of at
    least tail_from bytes is read by two processes (checker/tail.py).
    """
    tail = None if history is None else start_tail(history, tail_from)
    try:
        with _collector_paused():
            report, measured = _read_and_check(store_path, history, tail, examples, existing,
                                               read_timeout)  # fmt: skip
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
    measured = None if facts is None else Background(contention, facts.t0, facts.t1, facts.sku)
    return _report(snapshot, index, history, facts, examples), measured


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

    def __init__(self, fn, *args):
        self._value, self._error = None, None
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch, self.SWITCH_S))
        self._thread = threading.Thread(target=self._run, args=(fn, *args), daemon=True)
        self._thread.start()

    def _run(self, fn, *args) -> None:
        try:
            self._value = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the caller of result()
            self._error = e
        finally:
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


def _report(snapshot, index, history, facts, examples: int) -> dict:
    """Run every check that has what it needs; compose the report."""
    ctx = Context(snapshot=snapshot, index=index, facts=facts)
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


def table_lines(report: dict) -> list[str]:
    """Return the verdict table: one row per class, with one example each."""
    store = report["store"]
    how = "read through the API" if store["read"] == "api" else store["backend"]
    lines = [f"store   {store['path']} ({how or 'unknown format'}, {store['orders']} orders)"]
    if report["history"]:
        c, x = report["history"]["creates"], report["history"]["cancels"]
        lines.append(
            f"history creates ok {c['ok']} / fail {c['fail']} / info {c['info']}; "
            f"cancels ok {x['ok']} / fail {x['fail']} / info {x['info']}"
        )
    lines.append("")
    lines.append(f"{'anomaly':<16}{'count':>7}  example")
    for name in CHECKS:
        lines.append(_row(report, name))
    lines.append("")
    if report["history"]:
        lines.append(f"recovered (info writes that landed): {report['recovered']}")
        lines.append(contention_line(report))
    verdict = report["verdict"]
    unreadable = store["error"] if store["error"] and not store["readable"] else ""
    lines.append(f"verdict: {verdict.upper() if verdict == 'failed' else verdict}"
                 + (f" ({unreadable})" if unreadable else ""))  # fmt: skip
    return lines


def contention_line(report: dict) -> str:
    """Say how hard the writes contended, and whether that was enough to call it held."""
    c, least = report["contention"], report["min_overlaps"]
    line = (
        f"contention: {c['overlaps']} overlapping write pairs on one sku "
        f"({c['store_overlaps']} in the store), at most {c['max_depth']} at once"
    )
    if report["verdict"] == "inconclusive":
        line += f"; held needs {least}: inconclusive, the load did not exercise a race"
    return line


def _row(report: dict, name: str) -> str:
    if name in report["skipped"]:
        return f"{name:<16}{'-':>7}  skipped: {report['skipped_because'][name]}"
    if name in report["errors"]:
        return f"{name:<16}{'?':>7}  checker crashed: {report['errors'][name]}"
    example = report["examples"].get(name, [{}])[0].get("text", "")
    return f"{name:<16}{report['anomalies'][name]:>7}  {example[:110]}"


def explain_lines(report: dict, requests=None) -> list[str]:
    """Return every example in plain words, by its known name, with the history records
    involved; requests(anomaly, example), when given, names the few that explain it."""
    lines = []
    for name, examples in report["examples"].items():
        lines.append(f"{name} ({report['anomalies'][name]}): {CHECKS[name].known_as}")
        for n, example in enumerate(examples, 1):
            lines.append(f"  {n}. {example['text']}")
            chosen = requests(name, example) if requests else []
            if chosen:
                lines.append("     the requests that explain it, in the order they finished:")
                lines.extend(f"       {chr(65 + i)}: {_record(r)}" for i, r in enumerate(chosen))
                continue
            lines.extend(f"       history: {_record(r)}" for r in example.get("records", []))
            overlapping = example.get("overlapping", [])
            if overlapping:
                lines.append(f"       {len(overlapping)} overlapping write(s), e.g.:")
                lines.extend(f"         {_record(r)}" for r in overlapping)
        lines.append("")
    return lines or ["nothing to explain: no anomalies."]


def _record(r: dict) -> str:
    return (
        f"{r['op']} vu={r['vu']} token={r['token']} {r['qty']} x {r['sku']} -> "
        f"{r['type']} {r['status']} id={r['order_id']} at {r['t0']:.3f}-{r['t1']:.3f} s"
        + (f" ({r['error']})" if r.get("error") else "")
    )

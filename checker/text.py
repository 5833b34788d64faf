"""Format a report: the verdict table, the contention line, every example in plain words."""

from collections.abc import Callable

from checker.checks import CHECKS
from shapes.reports import CheckReport, Example, Verdict


def table_lines(report: CheckReport) -> list[str]:
    """Return the verdict table: one row per class, with one example each."""
    store = report.store
    how = "read through the API" if store.read == "api" else store.backend
    lines = [f"store   {store.path} ({how or 'unknown format'}, {store.orders} orders)"]
    if report.history:
        c, x = report.history.creates, report.history.cancels
        lines.append(
            f"history creates ok {c.ok} / fail {c.fail} / info {c.info}; "
            f"cancels ok {x.ok} / fail {x.fail} / info {x.info}"
        )
    lines.append("")
    lines.append(f"{'anomaly':<16}{'count':>7}  example")
    for name in CHECKS:
        lines.append(_row(report, name))
    lines.append("")
    if report.history:
        lines.append(f"recovered (info writes that landed): {report.recovered}")
        lines.append(contention_line(report))
    verdict = report.verdict
    unreadable = store.error if store.error and not store.readable else ""
    lines.append(f"verdict: {verdict.upper() if verdict is Verdict.FAILED else verdict}"
                 + (f" ({unreadable})" if unreadable else ""))  # fmt: skip
    return lines


def contention_line(report: CheckReport) -> str:
    """Say how hard the writes contended, and whether that was enough to call it held."""
    c, least = report.contention, report.min_overlaps
    line = (
        "contention: not measured (no history)"
        if c is None
        else f"contention: {c.overlaps} overlapping write pairs on one sku "
        f"({c.store_overlaps} in the store), at most {c.max_depth} at once"
    )
    if report.verdict is Verdict.INCONCLUSIVE:
        line += f"; held needs {least}: inconclusive, the load did not exercise a race"
    return line


def _row(report: CheckReport, name: str) -> str:
    if name in report.skipped:
        return f"{name:<16}{'-':>7}  skipped: {report.skipped_because[name]}"
    if name in report.errors:
        return f"{name:<16}{'?':>7}  checker crashed: {report.errors[name]}"
    found = report.examples.get(name)
    example = found[0].text if found else ""
    return f"{name:<16}{report.anomalies[name]:>7}  {example[:110]}"


Picker = Callable[[str, Example], list[dict]]  # the requests that explain an example


def explain_lines(report: CheckReport, requests: Picker | None = None) -> list[str]:
    """Return every example in plain words, by its known name, with the history records
    involved; requests(anomaly, example), when given, names the few that explain it."""
    lines = []
    for name, examples in report.examples.items():
        lines.append(f"{name} ({report.anomalies[name]}): {CHECKS[name].known_as}")
        for n, example in enumerate(examples, 1):
            lines.append(f"  {n}. {example.text}")
            chosen = requests(name, example) if requests else []
            if chosen:
                lines.append("     the requests that explain it, in the order they finished:")
                lines.extend(f"       {chr(65 + i)}: {_record(r)}" for i, r in enumerate(chosen))
                continue
            lines.extend(f"       history: {_record(r)}" for r in example.records or [])
            overlapping = example.overlapping or []
            if overlapping:
                lines.append(f"       {len(overlapping)} overlapping write(s), e.g.:")
                lines.extend(f"         {_record(r)}" for r in overlapping)
        lines.append("")
    return lines or ["nothing to explain: no anomalies."]


def _record(r: dict) -> str:
    what = (
        f"{r.get('doctor')} off {r.get('shift')}"
        if r["op"] == "leave"
        else f"{r['qty']} x {r['sku']}"
    )
    return (
        f"{r['op']} vu={r['vu']} token={r['token']} {what} -> "
        f"{r['type']} {r['status']} id={r['order_id']} at {r['t0']:.3f}-{r['t1']:.3f} s"
        + (f" ({r['error']})" if r.get("error") else "")
    )

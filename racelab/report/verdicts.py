"""The compare verdict table and the sentence under it for each failed target."""

from typing import Literal

from checker.checks import CHECKS, columns
from racelab.compare.targets import TargetSpec
from shapes.reports import CompareEntry, Verdict

ANOMALY_COLUMNS = columns()  # column -> the anomaly classes it adds up, from checker.checks
COLUMNS = (
    "target",
    "workers",
    "requests",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    *ANOMALY_COLUMNS,
    "overlaps",
    "verdict",
)
WIDE = {"lost": 6, "corrupt": 8, "stock": 6, "stale": 6}  # a column not named here is 5 wide
WIDTHS = (24, 7, 9, 8, 8, 8, 7, *(WIDE.get(c, 5) for c in ANOMALY_COLUMNS), 9, 13)
RED, GREEN, YELLOW, RESET = "\033[31m", "\033[32m", "\033[33m", "\033[0m"
COLORS = {Verdict.HELD: GREEN, Verdict.INCONCLUSIVE: YELLOW}


def row_values(entry: CompareEntry) -> tuple:
    """Return the table's cells for one target entry of report.json."""
    load, a = entry.load, entry.anomalies
    return (
        entry.target,
        entry.workers,
        load.requests,
        f"{load.rps:.0f}",
        f"{load.latency_ms.p50:.1f}",
        f"{load.latency_ms.p99:.1f}",
        load.errors,
        *(sum(a.get(name, 0) for name in names) for names in ANOMALY_COLUMNS.values()),
        entry.contention.overlaps if entry.contention else 0,
        verdict_word(entry.verdict),
    )


def verdict_word(verdict: Verdict) -> str:
    """Return how the table shows a verdict: a failure shouts, the others do not."""
    shouted = verdict in (Verdict.FAILED, Verdict.UNKNOWN)
    return verdict.value.upper() if shouted else verdict.value


def table_lines(entries: list[CompareEntry], color: bool = False) -> list[str]:
    """Return the verdict table, coloured for a terminal if asked."""
    header = "".join(
        f"{c:>{w}}" if i else f"{c:<{w}}"
        for i, (c, w) in enumerate(zip(COLUMNS, WIDTHS, strict=True))
    )
    lines = [header, "-" * len(header)]
    for entry in entries:
        cells = row_values(entry)
        text = "".join(
            f"{c!s:>{w}}" if i else f"{c!s:<{w}}"
            for i, (c, w) in enumerate(zip(cells[:-1], WIDTHS[:-1], strict=True))
        )
        verdict = f"{cells[-1]:>{WIDTHS[-1]}}"
        if color:
            verdict = f"{COLORS.get(entry.verdict, RED)}{verdict}{RESET}"
        lines.append(text + verdict)
    return lines


INCONCLUSIVE = (
    "no anomaly, but too few writes overlapped on one sku to call it held: the load did not "
    "exercise a race (more virtual users, less think time)."
)


def what_broke(entry: CompareEntry) -> str:
    """Return the anomaly counts of a failed target in words."""
    parts = [
        f"{count} {name.replace('_', ' ')}" for name, count in entry.anomalies.items() if count
    ]
    return ", ".join(parts) or "no anomaly counted"


def label(entry: CompareEntry) -> str:
    """Return a target's name in a report: json:naive@4, or an external one's own name."""
    if entry.backend == "external":
        return entry.target
    return f"{entry.target}@{entry.workers}"


def described(entry: CompareEntry, what: Literal["why", "claims"]) -> str:
    """Return a target's why or claims: from its entry, or (an older report) its strategy."""
    said = entry.why if what == "why" else entry.claims
    if isinstance(said, str):
        return said
    return getattr(TargetSpec(entry.backend, entry.strategy), what)


def _why(entry: CompareEntry) -> str:
    """Return why a target failed: its strategy's sentence, or on the on-call workload
    (whose rule spans rows, unlike the orders the sentence speaks of) what each anomaly is."""
    if entry.workload == "orders":
        return described(entry, "why")
    found = [CHECKS[n].known_as for n, count in entry.anomalies.items() if count and n in CHECKS]
    return "; ".join(found) + "." if found else described(entry, "why")


def explanation_lines(entries: list[CompareEntry]) -> list[str]:
    """Return one sentence per target that did not hold: what broke and why."""
    lines = []
    for entry in entries:
        if entry.verdict is Verdict.HELD:
            continue
        if entry.verdict is Verdict.INCONCLUSIVE:
            lines.append(f"{label(entry)}: {INCONCLUSIVE}")
            continue
        why = _why(entry)
        if entry.read == "api" and entry.store_error:
            why += f"; {entry.store_error}"
        down = [e for e in entry.faults if not e.restarted]
        if down:
            why += f" After a kill it could not restart: {down[0].error or 'no reason given'}."
        lines.append(f"{label(entry)}: {what_broke(entry)}. {why[:1].upper()}{why[1:]}")
    return lines

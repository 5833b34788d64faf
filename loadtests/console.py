"""Human-readable output of a load run: the live line and the end-of-run table."""

import asyncio
import csv

import msgspec

from shapes.reports import LoadSummary

TIMELINE_COLUMNS = ("second", "vus", "requests", "errors", "p50_ms", "p95_ms", "p99_ms")


def live_line(elapsed: float, run) -> str:
    """Return one status line: elapsed, VUs, requests/s and errors of the last second, p95."""
    rows = run.stats.timeline.rows
    last = rows[-1] if rows else {"requests": 0, "errors": 0, "p95_ms": 0.0}
    total = run.stats.total
    error_pct = 100.0 * total.errors / total.requests if total.requests else 0.0
    return (
        f"{elapsed:6.1f}s  vus {run.active_vus:4d}  {last['requests']:6d} req/s  "
        f"errors {error_pct:5.1f}%  p95 {last['p95_ms']:7.1f} ms"
    )


async def print_live(run, stream, interval: float = 1.0) -> None:
    """Print the live line once a second until cancelled."""
    while True:
        await asyncio.sleep(interval)
        if run._start:
            stream.write("\r" + live_line(run.elapsed(), run))
            stream.flush()


def summary_lines(summary: LoadSummary) -> list[str]:
    """Return the end-of-run summary as a table, like k6's."""
    lat = msgspec.structs.asdict(summary.latency_ms)
    requests = summary.requests or 1
    lines = [
        f"  requests......: {summary.requests}  ({summary.rps}/s over {summary.duration_s} s)",
        f"  errors........: {summary.errors}  ({100.0 * summary.errors / requests:.2f}%)"
        f"   dropped: {summary.dropped}",
        f"  contention....: {summary.overlaps} pairs of writes on one sku (or leaves of one "
        "shift) in flight together",
        "  latency (ms)..: " + "  ".join(f"{k.replace('_', '.')}={v:.2f}" for k, v in lat.items()),
        "",
        f"  {'op':<8}{'requests':>10}{'errors':>8}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}",
    ]
    for op, s in summary.by_op.items():
        ol = s.latency_ms
        lines.append(
            f"  {op:<8}{s.requests:>10}{s.errors:>8}{ol.p50:>9.2f}"
            f"{ol.p95:>9.2f}{ol.p99:>9.2f}{ol.max:>9.2f}"
        )
    lines.append("")
    statuses = ", ".join(f"{k}: {v}" for k, v in summary.by_status.items())
    lines.append(f"  status........: {statuses}")
    if summary.by_cause:
        lines.append(
            "  causes........: " + ", ".join(f"{k}: {v}" for k, v in summary.by_cause.items())
        )
    for t in summary.thresholds:
        mark = "✓" if t.passed else "✗"
        lines.append(f"  {mark} {t.expr}  (measured {t.value})")
    return lines


def write_timeline_csv(rows: list[dict], stream) -> None:
    """Write one row per second for charts."""
    writer = csv.DictWriter(stream, fieldnames=TIMELINE_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)

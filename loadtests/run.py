"""Run one load end to end: history file, stats, thresholds, outputs; and what a person
watching it reads, the live line while it runs and the table at its end."""

import asyncio
import contextlib
import csv
import sys
from pathlib import Path

import msgspec

from history import HistoryWriter
from loadtests.config import LoadConfig
from loadtests.runner import LoadRun
from loadtests.stats import summarize
from loadtests.thresholds import evaluate
from shapes.reports import LoadSummary, write_shape

TIMELINE_COLUMNS = ("second", "vus", "requests", "errors", "p50_ms", "p95_ms", "p99_ms")


async def _drive(run: LoadRun, live) -> None:
    # live is a terminal stream for the live line, or a watcher with a watch(run) coroutine
    # that follows the run from its loop (racelab ui's live charts and checks).
    watch = getattr(live, "watch", None)
    printer = None
    if live:
        printer = asyncio.create_task(watch(run) if watch else print_live(run, live))
    try:
        await run.run()
    finally:
        if printer:
            printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await printer
            if not watch:
                live.write("\n")


def run_on_loop(coroutine, loop: str):
    """Run a coroutine to its end on uvloop (libuv: least CPU a request) or asyncio's own loop."""
    if loop == "uvloop":
        import uvloop  # noqa: PLC0415 - only the load generator needs it

        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


def execute(
    config: LoadConfig,
    history_path=None,
    thresholds=(),
    live=None,
    summary_path=None,
    timeline_path=None,
) -> tuple[LoadSummary, LoadRun]:
    """Run the load; write the history and outputs; return (summary, run)."""
    writer = HistoryWriter(history_path) if history_path else None
    run = LoadRun(config, writer)
    try:
        run_on_loop(_drive(run, live), config.loop)
    finally:
        if writer:
            writer.close()
    summary = summarize(run.stats)
    summary.thresholds = evaluate(list(thresholds), summary)
    summary.shape, summary.seed, summary.target = config.shape(), config.seed, config.url
    if summary_path:
        write_shape(Path(summary_path), summary)
    if timeline_path:
        with open(timeline_path, "w", newline="") as f:
            write_timeline_csv(run.stats.timeline.rows, f)
    return summary, run


def live_stream(quiet: bool):
    """Return stderr for the live line when it is a terminal, else None."""
    return sys.stderr if not quiet and sys.stderr.isatty() else None


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

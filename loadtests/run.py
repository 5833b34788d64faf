"""Run one load end to end: history file, stats, thresholds, outputs."""

import asyncio
import contextlib
import sys
from pathlib import Path

from history import HistoryWriter
from loadtests.config import LoadConfig
from loadtests.console import print_live, write_timeline_csv
from loadtests.runner import LoadRun
from loadtests.stats import summarize
from loadtests.thresholds import evaluate
from shapes.reports import LoadSummary, write_shape


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

"""Drive a whole compare run: progress, verdict table, report files, exit status."""

import json
import sys
import time
from datetime import datetime
from pathlib import Path

import click

from loadtests.run import live_stream
from racelab.compare import Settings, TargetFailed, log_tail, run_target, settings_dict
from racelab.report_html import render
from racelab.verdicts import explanation_lines, table_lines

OVERHEAD_GUESS_S = 2.5  # start, stop and check of one target, before any was measured


def _progress(index: int, total: int, name: str, started: float, per_target: float) -> str:
    elapsed = time.monotonic() - started
    left = (total - index) * per_target
    return f"[{index + 1}/{total}] {name:<26} elapsed {elapsed:4.0f}s, about {left:3.0f}s left"


def run_compare(specs, settings: Settings, out) -> int:
    """Run every target; print and write the results; return the exit status."""
    out_dir = Path(out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"))
    out_dir.mkdir(parents=True, exist_ok=True)
    entries, failures, started = [], [], time.monotonic()
    per_target = settings.duration + OVERHEAD_GUESS_S
    for index, spec in enumerate(specs):
        click.echo(_progress(index, len(specs), spec.name, started, per_target), err=True)
        try:
            entries.append(run_target(spec, settings, out_dir, live_stream(False)))
        except TargetFailed as e:
            tail = log_tail(out_dir / spec.slug / "server.log")
            failures.append(spec.name)
            click.echo(f"  {spec.name} could not be run: {e}\n  server log:\n{tail}", err=True)
        per_target = (time.monotonic() - started) / (index + 1)
    report = {
        "settings": settings_dict(settings, specs),
        "targets": entries,
        "could_not_run": failures,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "report.html").write_text(render(report, out_dir))
    _print_results(entries, out_dir, time.monotonic() - started)
    return 1 if failures else 0


def _print_results(entries: list[dict], out_dir: Path, seconds: float) -> None:
    click.echo("")
    click.echo("\n".join(table_lines(entries, color=sys.stdout.isatty())))
    explanations = explanation_lines(entries)
    if explanations:
        click.echo("")
        click.echo("\n".join(f"- {line}" for line in explanations))
    click.echo(f"\nreport: {out_dir / 'report.html'}  ({seconds:.0f} s)")

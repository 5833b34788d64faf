"""The self-contained compare report: the data each page shows, gathered before rendering.

The pages themselves are racelab/templates/report.html and examples.html, rendered with
autoescaping; the charts and swimlanes come in as Markup their own escaping code built.
"""

import csv
from pathlib import Path

from racelab.pages import render
from racelab.report.charts import anomaly_chart, throughput_chart, timeline_chart
from racelab.report.swimlane import swimlane_svg
from racelab.report.verdicts import COLUMNS, described, explanation_lines, label, row_values
from shapes.reports import CompareEntry, CompareReport, ReproNote

FILES = ("history.jsonl", "load.json", "timeline.csv", "check.json", "server.log")


def read_timeline(path: Path) -> list[dict]:
    """Read a timeline.csv written by racelab load."""
    with open(path, newline="") as f:
        return [
            {k: float(v) if "." in v else int(v) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def read_timelines(report: CompareReport, out_dir: Path) -> dict[str, list[dict]]:
    """Read every target's timeline.csv, keyed by its directory."""
    return {e.dir: read_timeline(out_dir / e.dir / "timeline.csv") for e in report.targets}


def report_page(report: CompareReport, timelines: dict, lanes: dict | None = None) -> str:
    """Return the whole report page as one HTML string (no external resources)."""
    entries, lanes = report.targets, lanes or {}
    return render(
        "report.html",
        columns=COLUMNS,
        verdicts=[_verdict_row(e) for e in entries],
        why=explanation_lines(entries),
        charts=(anomaly_chart(entries) + throughput_chart(entries)) if entries else "",
        cards=[_card(e, timelines[e.dir], lanes.get(e.dir, [])) for e in entries],
        files=FILES,
        settings=[(k, str(v)) for k, v in report.settings.items()],
    )


def examples_page(entry: CompareEntry, lanes: list) -> str:
    """Return a target's page: every anomaly example it kept, each as a swimlane."""
    return render("examples.html", name=label(entry), why=described(entry, "why"),
                  examples=[_example(one) for one in lanes])  # fmt: skip


def _verdict_row(entry: CompareEntry) -> dict:
    cells = row_values(entry)
    return {"cells": [str(c) for c in cells[:-1]], "verdict": entry.verdict.value,
            "last": cells[-1]}  # fmt: skip


def _card(entry: CompareEntry, rows: list[dict], lanes: list) -> dict:
    """Return what one target's card shows."""
    name = label(entry)
    kills = tuple(e.at_s for e in entry.faults)
    return {
        "name": name, "verdict": entry.verdict.value, "dir": entry.dir,
        "claims": described(entry, "claims"), "measured": _measured(entry),
        "timeline": timeline_chart(rows, name, kills),
        "faults": _faults_note(entry), "contention": _contention_note(entry),
        "examples": [(k, v[0]) for k, v in entry.examples.items() if v],
        "swimlanes": [_example(one) for one in _firsts(lanes)],
        "target": f"{entry.target}@{entry.workers}",
        "repros": [_repro(r) for r in entry.repro or []],
    }  # fmt: skip


def _faults_note(entry: CompareEntry) -> str:
    """Say when the target was killed, whether it came back, and which kills were not made."""
    unmade = entry.kills_unmade or []
    parts = [
        f"{e.at_s:.1f} s (back after {e.down_s or 0.0:.1f} s)"
        if e.restarted
        else f"{e.at_s:.1f} s (did not come back: {e.error or 'no reason given'})"
        for e in entry.faults
    ]
    note = f"Killed with SIGKILL at {', '.join(parts)}. " if parts else ""
    if unmade:
        planned = ", ".join(f"{at:.1f} s" for at in unmade)
        note += (f"{len(unmade)} planned kill(s), due at {planned}, not made: the load ended "
                 "first (a slow restart delays the kills after it).")  # fmt: skip
    return note.strip()


def _contention_note(entry: CompareEntry) -> str:
    """Say how hard the writes contended: the evidence a `held` rests on."""
    c = entry.contention
    if not c:
        return ""
    return (
        f"Contention: {c.overlaps} overlapping write pairs on one sku "
        f"({c.store_overlaps} in the store), at most {c.max_depth} writes on one sku "
        f"at once, over {c.writes} writes."
    )


def _firsts(lanes: list) -> list:
    """Return the first example of each anomaly class."""
    firsts: dict = {}
    for one in lanes:
        firsts.setdefault(one.anomaly, one)
    return list(firsts.values())


def _example(lanes) -> dict:
    """Return one example: its class and sentence, its swimlane, the store's state."""
    return {"anomaly": lanes.anomaly, "text": lanes.text, "svg": swimlane_svg(lanes),
            "before": lanes.before, "after": lanes.after}  # fmt: skip


def _repro(r: ReproNote) -> dict:
    """A reproduction's file and how its replays went, or why it has none."""
    if not r.file:
        outcome = r.summary
    elif not r.runs:  # written, but it could not be replayed
        outcome = ": " + r.summary.split(": ", 1)[-1]
    else:
        outcome = f", reproduced {r.reproduced}/{r.runs}"
    return {"anomaly": r.anomaly, "file": r.file, "outcome": outcome}


def _measured(entry: CompareEntry) -> str:
    """Return what this run showed, each class by the name people know it by."""
    from checker.checks import CHECKS

    found = [k for k, v in entry.anomalies.items() if v]
    if not found:
        return entry.verdict.value
    return "; ".join(f"{k} — {CHECKS[k].known_as}" for k in found)

"""What a compare run leaves behind: the verdict table, report.json and report.html."""

from pathlib import Path

from racelab.report.html import examples_page, read_timelines, report_page
from racelab.report.swimlane import target_lanes
from shapes.reports import CompareEntry, CompareReport, Verdict, to_json


def write_report(report: CompareReport, out_dir: Path) -> None:
    """Write report.json, the self-contained report.html, and for each target that failed a
    page of its anomaly examples, each drawn as a swimlane (DIR/examples.html).

    Everything the pages show is read first; the templates then render it."""
    lanes = {
        entry.dir: target_lanes(out_dir / entry.dir, _kills(entry), store_file=entry.read != "api")
        for entry in report.targets
        if entry.verdict is Verdict.FAILED
    }
    timelines = read_timelines(report, out_dir)
    _write(out_dir / "report.json", to_json(report))
    _write(out_dir / "report.html", report_page(report, timelines, lanes))
    for entry in report.targets:
        if lanes.get(entry.dir):
            page = examples_page(entry, lanes[entry.dir])
            _write(out_dir / entry.dir / "examples.html", page)


def _write(path: Path, text: str) -> None:
    """Write text as UTF-8, whatever the locale; what it cannot encode is escaped, not fatal."""
    # A server under test names its own skus: a lone surrogate among them is \ud800 here.
    path.write_text(text, encoding="utf-8", errors="backslashreplace")


def _kills(entry: CompareEntry) -> tuple:
    return tuple(event.at_s for event in entry.faults)

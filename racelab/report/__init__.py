"""What a compare run leaves behind: the verdict table, report.json and report.html."""

import json
from pathlib import Path

from racelab.report.html import examples_page, render
from racelab.report.swimlane import target_lanes


def write_report(report: dict, out_dir: Path) -> None:
    """Write report.json, the self-contained report.html, and for each target that failed a
    page of its anomaly examples, each drawn as a swimlane (DIR/examples.html)."""
    lanes = {
        entry["dir"]: target_lanes(
            out_dir / entry["dir"], _kills(entry), store_file=entry.get("read") != "api"
        )
        for entry in report["targets"]
        if entry["verdict"] == "failed"
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "report.html").write_text(render(report, out_dir, lanes))
    for entry in report["targets"]:
        if lanes.get(entry["dir"]):
            page = examples_page(entry, lanes[entry["dir"]])
            (out_dir / entry["dir"] / "examples.html").write_text(page, encoding="utf-8")


def _kills(entry: dict) -> tuple:
    return tuple(event["at_s"] for event in entry.get("faults", []))

"""What a compare run leaves behind: the verdict table, report.json and report.html."""

import json
from pathlib import Path

from racelab.report.html import render


def write_report(report: dict, out_dir: Path) -> None:
    """Write report.json and the self-contained report.html into out_dir."""
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "report.html").write_text(render(report, out_dir))

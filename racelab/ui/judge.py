"""The live check's worker process: one JSON request a line on stdin, one answer a line out.

A check reads and parses the whole history so far, and the checker is pure Python: run in
the UI's process it would hold the GIL the load generator needs (docs/benchmarks.md, "The
UI"). Here it has an interpreter of its own; the UI's thread only copies the store and
waits for the answer.
"""

import json
import sys
from pathlib import Path

from shapes.reports import CheckReport


def judge(request: dict) -> dict:
    """Check a copied store against the history so far; return what the page shows."""
    from checker import check
    from history import parse_lines
    from racelab.ui.live import history_so_far, summary

    lines = history_so_far(Path(request["history"]), request["copied_at"], request["pending"])
    if not lines:
        return {}
    history = parse_lines(lines)
    copy = request["copy"]
    report = check(copy, history, examples=1, min_overlaps=0)
    result = summary(report, copy, request["shown"])
    result["swimlanes"] = swimlanes(report, history, copy, set(request.get("drawn", ())))
    return result


def warm_up() -> None:
    """Import what a check needs before the first one comes: the UI starts this process as
    a target starts, and the imports then overlap the server's start."""
    import checker.report  # noqa: F401
    import racelab.report.swimlane  # noqa: F401
    import racelab.repro.pick  # noqa: F401


def swimlanes(report: CheckReport, history, copy: str, drawn: set) -> dict:
    """Return {class: SVG} of the first example of each class not drawn yet."""
    from checker.stores import read_store
    from racelab.report.swimlane import example_lanes, swimlane_svg
    from racelab.repro.pick import read_writes

    new = {k: v[0] for k, v in report.examples.items() if v and k not in drawn}
    if not new:
        return {}
    writes, snapshot = read_writes(history), read_store(copy, integrity=False)
    initial = dict(history.run.get("items") or {})
    drawn_now = {
        anomaly: str(swimlane_svg(example_lanes(anomaly, example, writes, (), initial, snapshot)))
        for anomaly, example in new.items()
    }
    return {anomaly: svg for anomaly, svg in drawn_now.items() if svg}  # none: try next check


def main() -> None:
    """Answer each request line until stdin closes (the UI's run ended, or the UI died)."""
    warm_up()
    for line in sys.stdin:
        try:
            answer = judge(json.loads(line))
        except Exception as e:  # noqa: BLE001 - a live check is provisional; the final one counts
            answer = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

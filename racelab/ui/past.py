"""Two past runs' verdict tables side by side: one row per target either run had."""

from pathlib import Path

from racelab.exceptions import RacelabError
from shapes.reports import CompareReport, read_shape


class NoSuchRun(RacelabError, LookupError):
    """A run id with no report.json in the runs folder."""


def verdicts(runs_dir: Path, run_id: str) -> dict[str, str]:
    """Return {target@workers: verdict} of one run's report.json, in its order."""
    path = Path(runs_dir) / run_id / "report.json"
    if "/" in run_id or run_id.startswith(".") or not path.is_file():
        raise NoSuchRun(f"no run {run_id!r} with a report in {runs_dir}")
    try:
        report = read_shape(path, CompareReport)
    except (OSError, ValueError) as e:  # not JSON, or not the shape (msgspec.ValidationError)
        raise NoSuchRun(f"run {run_id!r}: its report.json is unreadable ({e})") from None
    return {f"{t.target}@{t.workers}": t.verdict.value for t in report.targets}


def side_by_side(runs_dir: Path, first: str, second: str) -> dict:
    """Return {"runs": [first, second], "rows": [{target, verdicts: [a, b]}]} (None: not run)."""
    a, b = verdicts(runs_dir, first), verdicts(runs_dir, second)
    targets = list(dict.fromkeys([*a, *b]))
    rows = [{"target": t, "verdicts": [a.get(t), b.get(t)], "same": a.get(t) == b.get(t)}
            for t in targets]  # fmt: skip
    return {"runs": [first, second], "rows": rows}

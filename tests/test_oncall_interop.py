"""k6 and Locust run the on-call workload on a live target, for real: their leaves reach the
history with their shift and doctor, and the checker judges them."""

import os
import subprocess

from checker import check
from history import read_history
from tests.live import served
from tests.test_interop import BIN, ROOT, racelab_out, run_locust


def judged(history_path, data_dir) -> tuple[dict, list]:
    """Return the checker's report on the run, and its leave records."""
    history = read_history(history_path)
    report = check(next(data_dir.glob("store.*")), history, min_overlaps=1)
    return report, [r for r in history.ops if r["op"] == "leave"]


def test_k6_runs_the_oncall_workload_and_its_leaves_keep_shift_and_doctor(tmp_path):
    with served(tmp_path, "sqlite", "transactional", 2) as (url, data_dir):
        k6 = subprocess.run(
            [str(BIN / "k6"), "run", "--no-usage-report", "--quiet", "--no-thresholds",
             "-e", f"BASE_URL={url}", "-e", "VUS=5", "-e", "DURATION=2s", "-e", "WORKLOAD=oncall",
             "--out", f"json={tmp_path / 'k6.json'}", str(ROOT / "loadtests" / "k6" / "orders.js")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert k6.returncode == 0, k6.stderr[-2000:]
    converted = racelab_out("history", "from-k6", str(tmp_path / "k6.json"))
    assert converted.returncode == 0, converted.stderr
    (tmp_path / "h.jsonl").write_text(converted.stdout)
    report, leaves = judged(tmp_path / "h.jsonl", data_dir)
    assert leaves and all(r["shift"].startswith("s") and r["doctor"] in ("d1", "d2")
                          for r in leaves)  # fmt: skip
    # Each VU walks s1, s2, ...: the first shift is left once, its other leaves refused.
    assert sum(r["type"] == "ok" for r in leaves if r["shift"] == "s1") == 1
    assert report.verdict == "held" and "stale_read" in report.skipped


def test_locust_runs_the_oncall_workload_and_records_what_its_reads_returned(tmp_path):
    os.environ["RACELAB_WORKLOAD"] = "oncall"  # run_locust passes the environment on
    try:
        with served(tmp_path, "sqlite", "transactional", 2) as (url, data_dir):
            run_locust(url, tmp_path / "h.jsonl", tmp_path)
    finally:
        del os.environ["RACELAB_WORKLOAD"]
    report, leaves = judged(tmp_path / "h.jsonl", data_dir)
    history = read_history(tmp_path / "h.jsonl")
    assert {r["op"] for r in history.ops} == {"leave", "shifts"}
    assert all(r["shift"] and r["doctor"] for r in leaves)
    assert sum(r["type"] == "ok" for r in leaves if r["shift"] == "s1") == 1
    assert report.verdict == "held" and report.skipped == []  # reads recorded: checked

"""k6 and Locust drive a live target for real; their histories are read back and agree, the
on-call workload's too (its leaves reach the history with their shift and doctor)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from checker import check
from history import parse_lines, read_history, run_record
from loadtests.interop import merge_histories
from tests.builders import create
from tests.live import served

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def racelab_out(*args) -> subprocess.CompletedProcess:
    """Run racelab and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "racelab", *args], capture_output=True, text=True, timeout=60
    )


def assert_agrees_with_store(history_path, data_dir):
    """The history reads back, covers real work, and the store held against it."""
    history = read_history(history_path)
    # Agreement is the subject here, not how hard the writes raced: one overlapping pair is
    # evidence enough, so a slow machine that overlaps fewer than 100 cannot fail it.
    report = check(next(data_dir.glob("store.*")), history, min_overlaps=1)
    assert report.verdict == "held", report.examples
    creates = report.history.creates
    # Real work, however slow the machine: a busy one made under 50 creates in the 3 s.
    assert creates.ok > 10
    cancels = report.history.cancels
    # Every ok create is stored unless cancelled; a cancel cut off by the stop (info)
    # may or may not have happened.
    expected = creates.ok + report.recovered - cancels.ok
    assert expected - cancels.info <= report.store.orders <= expected
    return history


def test_k6_run_becomes_a_history_the_checker_reads(tmp_path):
    with served(tmp_path, "sqlite", "transactional", 2) as (url, data_dir):
        k6 = subprocess.run(
            [
                str(BIN / "k6"),
                "run",
                "--no-usage-report",
                "--quiet",
                # The script's p99<150ms is for people's runs; here a slow machine's latency
                # must not fail a test of the history (k6 exits 99 on a crossed threshold).
                "--no-thresholds",
                "-e",
                f"BASE_URL={url}",
                "-e",
                "VUS=5",
                "-e",
                "DURATION=3s",
                "-e",
                "SEED=3",
                "--out",
                f"json={tmp_path / 'k6.json'}",
                "--summary-export",
                str(tmp_path / "sum.json"),
                str(ROOT / "loadtests" / "k6" / "orders.js"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert k6.returncode == 0, k6.stderr[-2000:]
    converted = racelab_out("history", "from-k6", str(tmp_path / "k6.json"))
    assert converted.returncode == 0, converted.stderr
    (tmp_path / "h.jsonl").write_text(converted.stdout)
    history = assert_agrees_with_store(tmp_path / "h.jsonl", data_dir)
    requests = json.loads((tmp_path / "sum.json").read_text())["metrics"]["http_reqs"]["count"]
    assert len(history.ops) == requests - 1  # every request but the run-record carrier
    assert history.run["seed"] == 3 and history.run["target"] == url
    creates = [r for r in history.ops if r["op"] == "create"]
    assert all(r["token"].startswith("k3-v") and r["order_id"] for r in creates)


def test_from_k6_refuses_other_files(tmp_path):
    (tmp_path / "x.json").write_text("not json\n")
    result = racelab_out("history", "from-k6", str(tmp_path / "x.json"))
    assert result.returncode == 2 and "line 1: not JSON" in result.stderr


def run_locust(url, history, tmp_path, *extra):
    """Run the locustfile headless for a few seconds."""
    env = {**os.environ, "RACELAB_HISTORY": str(history), "RACELAB_SEED": "5"}
    result = subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(ROOT / "loadtests" / "locustfile.py"),
            "--headless",
            "-u",
            "6",
            "-r",
            "6",
            "-t",
            "3s",
            "-H",
            url,
            "--only-summary",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    written = list(tmp_path.glob(f"{history.name}*"))
    assert written, f"locust wrote no history; its log ends: {result.stderr[-3000:]}"


def test_locust_writes_a_history_through_its_request_hook(tmp_path):
    with served(tmp_path, "json", "file-lock", 2) as (url, data_dir):
        run_locust(url, tmp_path / "h.jsonl", tmp_path)
    history = assert_agrees_with_store(tmp_path / "h.jsonl", data_dir)
    assert history.run["seed"] == 5 and {r["op"] for r in history.ops} >= {"create", "cancel"}


def test_locust_workers_histories_merge_into_one(tmp_path):
    with served(tmp_path, "sqlite", "transactional", 2) as (url, data_dir):
        run_locust(url, tmp_path / "h.jsonl", tmp_path, "--processes", "2")
    parts = sorted(tmp_path.glob("h.jsonl.*"))
    assert len(parts) == 2
    merged = racelab_out("history", "merge", *map(str, parts))
    assert merged.returncode == 0, merged.stderr
    (tmp_path / "merged.jsonl").write_text(merged.stdout)
    history = assert_agrees_with_store(tmp_path / "merged.jsonl", data_dir)
    assert history.run["shape"]["merged"] == 2
    assert len(history.ops) == sum(len(read_history(p).ops) for p in parts)


def test_merge_puts_workers_on_one_clock_with_distinct_users():
    def part(started, t0):
        lines = [json.dumps(run_record("http://127.0.0.1:1", started, 1, {}, {"sku-1": 5}))]
        lines.append(json.dumps(create(f"t{t0}", order_id=1, t0=t0, t1=t0 + 0.5, vu=0)))
        return parse_lines(lines)

    run, *ops = merge_histories(
        [part("2026-01-01T00:00:02+00:00", 1.0), part("2026-01-01T00:00:00+00:00", 0.25)]
    )
    assert run["started"] == "2026-01-01T00:00:00+00:00"
    assert [(r["token"], r["t0"], r["vu"]) for r in ops] == [("t0.25", 0.25, 1), ("t1.0", 3.0, 0)]


def test_merge_takes_the_stock_read_before_any_write():
    def part(started, stock, t0):
        lines = [json.dumps(run_record("http://127.0.0.1:1", started, 1, {}, {"sku-1": stock}))]
        lines.append(json.dumps(create(f"t{t0}", order_id=1, t0=t0, t1=t0 + 0.01, vu=0)))
        return parse_lines(lines)

    # The first to start read the stock slowly, after the second had already sold one.
    slow = part("2026-01-01T00:00:00+00:00", 4, 0.5)
    quick = part("2026-01-01T00:00:00.100000+00:00", 5, 0.01)
    run, *_ = merge_histories([slow, quick])
    assert run["items"] == {"sku-1": 5}
    assert run["started"] == "2026-01-01T00:00:00+00:00"  # times stay on the earliest clock


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

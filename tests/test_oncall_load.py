"""The on-call workload under load: plans that walk the shifts, leaves and answered reads in
the history, and `racelab load|compare --workload oncall` end to end on live servers."""

import json
import subprocess
import sys

import pytest

from checker import check
from checker.stores import resolve_store_path
from history import read_history
from loadtests.answers import answer_fields
from loadtests.config import LoadConfig
from loadtests.plan import Planner, default_mix
from loadtests.run import execute
from tests.live import in_process

ROTA = {"s1": ["d1", "d2"], "s2": ["d1", "d2"], "s3": ["d1", "d2"]}


def test_each_user_walks_the_shifts_in_order_a_random_doctor_each_time():
    users = [Planner(7, f"v{n}", {"leave": 1}, [], rota=ROTA) for n in range(3)]
    walked = [[u.next() for _ in range(4)] for u in users]
    for steps in walked:  # users that start together reach each shift together
        assert [s.shift for s in steps] == ["s1", "s2", "s3", "s1"]
        assert {s.doctor for s in steps} <= {"d1", "d2"}
    again = [Planner(7, "v0", {"leave": 1}, [], rota=ROTA).next() for _ in range(2)]
    assert again[0] == again[1] == walked[0][0]  # the same seed, the same plan


def test_an_open_plan_sends_as_many_leaves_in_a_row_to_a_shift_as_may_be_in_flight():
    planner = Planner(7, "open", {"leave": 1}, [], rota=ROTA, per_shift=2)
    assert [planner.next().shift for _ in range(5)] == ["s1", "s1", "s2", "s2", "s3"]


def test_without_a_rota_a_plan_draws_nothing_for_leaves():
    steps = [Planner(7, "v0", default_mix(), ["sku-1"]).next() for _ in range(3)]
    assert all(s.shift is None and s.doctor is None for s in steps)


def oncall_load(url, path, **overrides) -> dict:
    """Run the on-call workload, bounded by requests, not by the clock."""
    config = LoadConfig(url=url, duration=60.0, vus=8, max_requests=300, workload="oncall",
                        mix=default_mix("oncall"), **overrides)  # fmt: skip
    return execute(config, path)[0]


def test_the_oncall_load_records_leaves_and_what_each_rota_read_returned(tmp_path):
    with in_process(tmp_path / "store") as url:
        summary = oncall_load(url, tmp_path / "h.jsonl")
    history = read_history(tmp_path / "h.jsonl")
    assert history.run["shape"]["workload"] == "oncall" and summary["requests"] == 300
    leaves = [r for r in history.ops if r["op"] == "leave"]
    reads = [r for r in history.ops if r["op"] == "shifts"]
    assert leaves and reads and len(leaves) + len(reads) == 300
    assert all(r["shift"] in {f"s{n}" for n in range(1, 6)} for r in leaves)
    assert all(r["doctor"] in ("d1", "d2") and r["token"] for r in leaves)
    assert all(set(r["on_call"]) == {f"s{n}" for n in range(1, 6)} for r in reads)
    # Five shifts of two: exactly one leave of each is acknowledged, the rest refused.
    assert sum(r["type"] == "ok" for r in leaves) == 5
    report = check(resolve_store_path(tmp_path / "store"), history, min_overlaps=0)
    assert report["skipped"] == [] and not any(report["anomalies"].values())
    assert report["contention"]["writes"] == len(leaves)


def test_orders_reads_record_what_they_returned_unless_told_not_to(tmp_path):
    mix = {"create": 50, "cancel": 10, "get": 15, "list": 15, "items": 10}
    for recorded in (True, False):
        path = tmp_path / f"h{recorded}.jsonl"
        with in_process(tmp_path / f"store{recorded}") as url:
            execute(LoadConfig(url=url, duration=60.0, vus=8, max_requests=300, mix=mix,
                               record_reads=recorded), path)  # fmt: skip
        history = read_history(path)
        store = resolve_store_path(tmp_path / f"store{recorded}")
        report = check(store, history, min_overlaps=0)
        answered = [r for r in history.ops if r["orders"] is not None or r["stock"]]
        assert (report["skipped"] == []) is recorded and bool(answered) is recorded
        assert not any(report["anomalies"].values())
    lists = [r for r in read_history(tmp_path / "hTrue.jsonl").ops if r["op"] == "list"]
    assert all(r["limit"] == 20 and r["after_id"] == 0 for r in lists)


def test_compare_runs_the_oncall_workload_and_its_table_shows_write_skew(tmp_path):
    args = ["compare", "--workload", "oncall", "--targets", "sqlite:transactional@1",
            "--duration", "1s", "--vus", "8", "--shifts", "3", "--out", str(tmp_path)]  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "racelab", *args], capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "skew" in result.stdout.splitlines()[1] and "stale" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["settings"]["workload"] == "oncall" and report["settings"]["shifts"] == 3
    entry = report["targets"][0]
    assert entry["expected"] == "held" and entry["anomalies"]["write_skew"] == 0
    assert entry["load"]["by_op"]["leave"]["requests"] > 0
    shifts = json.loads((tmp_path / "sqlite-transactional-1w" / "check.json").read_text())
    assert shifts["skipped"] == []


@pytest.mark.parametrize(
    "op, status, body, recorded",
    [
        ("get", 200, {"id": 3, "token": "t", "sku": "sku-1"}, {"orders": [[3, "t"]]}),
        ("get", 404, None, {"orders": []}),
        ("get", 500, None, {}),
        ("get", 200, {"id": True, "token": "t"}, {}),
        ("list", 200, {"orders": [{"id": 1, "token": "a"}]},
         {"orders": [[1, "a"]], "after_id": 7, "limit": 20}),
        ("list", 200, {"orders": [{"id": 1}]}, {}),
        ("items", 200, {"items": [{"sku": "sku-1", "stock": 4}]}, {"stock": {"sku-1": 4}}),
        ("items", 200, {"items": [{"sku": "sku-1", "stock": "4"}]}, {}),
        ("shifts", 200, [{"shift": "s1", "on_call": ["d2"]}], {"on_call": {"s1": ["d2"]}}),
        ("shifts", 200, [{"shift": "s1", "on_call": "d2"}], {}),
        ("shifts", 200, {"s1": ["d2"]}, {}),
    ],
)  # fmt: skip
def test_only_an_answer_of_the_contracts_shape_is_recorded(op, status, body, recorded):
    assert answer_fields(op, status, body, 7, 20) == recorded

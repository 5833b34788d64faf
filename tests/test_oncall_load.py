"""The on-call workload under load: plans that walk the shifts, leaves and answered reads in
the history, and `racelab load|compare --workload oncall` end to end on live servers."""

import collections
import json
import subprocess
import sys

import pytest

from checker import check
from checker.stores import resolve_store_path
from history import read_history
from loadtests.config import LoadConfig
from loadtests.outcome import answer_fields
from loadtests.plan import Planner, ShiftClock, default_mix
from loadtests.run import execute
from tests.live import in_process

ROTA = {"s1": ["d1", "d2"], "s2": ["d1", "d2"], "s3": ["d1", "d2"]}


def test_every_leave_sent_in_one_slot_names_one_shift_the_next_slot_the_next():
    clock, slot = ShiftClock(ROTA), ShiftClock.SLOT_S
    due = [clock.leave(t * slot, 0.0)[0] for t in (0, 0.99, 1, 2.5, 3)]
    assert due == ["s1", "s1", "s2", "s3", "s1"]  # whichever user sends it; then round again
    assert [clock.leave(0.0, pick)[1] for pick in (0.0, 0.49, 0.5, 0.99)] == ["d1", "d1", "d2",
                                                                          "d2"]  # fmt: skip


def test_a_seeded_plan_draws_each_leaves_doctor_the_same_again():
    plans = [Planner(7, "v0", {"leave": 1}, [], rota=ROTA) for _ in range(2)]
    first, again = ([plan.next() for _ in range(5)] for plan in plans)
    assert first == again and len({step.doctor_pick for step in first}) == 5


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
    assert history.run["shape"]["workload"] == "oncall" and summary.requests == 300
    leaves = [r for r in history.ops if r["op"] == "leave"]
    reads = [r for r in history.ops if r["op"] == "shifts"]
    assert leaves and reads and len(leaves) + len(reads) == 300
    assert all(r["shift"] in {f"s{n}" for n in range(1, 6)} for r in leaves)
    assert all(r["doctor"] in ("d1", "d2") and r["token"] for r in leaves)
    assert all(set(r["on_call"]) == {f"s{n}" for n in range(1, 6)} for r in reads)
    # Shifts of two: exactly one leave of each shift left is acknowledged, the rest refused.
    acked = collections.Counter(r["shift"] for r in leaves if r["type"] == "ok")
    assert set(acked) == {r["shift"] for r in leaves} and set(acked.values()) == {1}
    report = check(resolve_store_path(tmp_path / "store"), history, min_overlaps=0)
    assert report.skipped == [] and not any(report.anomalies.values())
    assert report.contention.writes == len(leaves)


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
        assert (report.skipped == []) is recorded and bool(answered) is recorded
        assert not any(report.anomalies.values())
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

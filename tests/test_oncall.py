"""The on-call workload: its contract on every strategy, the checker's planted write skew,
and the workload under load: plans that walk the shifts, leaves and answered reads in the
history (an orders load's reads too), and `racelab load|compare --workload oncall` end to end
on live servers."""

import collections
import http.server
import json
import subprocess
import sys
import threading
import urllib.request

import pytest

from checker import check
from checker.checks import CHECKS
from checker.stores import resolve_store_path
from history import op_record, parse_lines, read_history, run_record
from loadtests.config import LoadConfig
from loadtests.outcome import answer_fields
from loadtests.plan import Planner, ShiftClock, default_mix
from loadtests.run import execute
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from tests.builders import history_stream, write_rota_store
from tests.live import in_process

# These histories record no read's answer: the stale-read check is not made.
UNMADE = [name for name, c in CHECKS.items() if "reads" in c.needs]
NONE = {name: 0 for name in CHECKS if name not in UNMADE}


def leave(client, shift, doctor, token):
    """POST a leave; return (status, body)."""
    response = client.post(f"/shifts/{shift}/leave", json={"doctor": doctor, "token": token})
    return response.status_code, response.get_json()


def test_every_strategy_answers_the_on_call_contract(client):
    assert client.get("/shifts").get_json()[0] == {"shift": "s1", "on_call": ["d1", "d2"]}
    assert leave(client, "s1", "d1", "t1") == (200, {"shift": "s1", "on_call": ["d2"]})
    assert leave(client, "s1", "d1", "t1") == (200, {"shift": "s1", "on_call": ["d2"]})
    status, body = leave(client, "s1", "d2", "t2")
    assert (status, body["error"]) == (409, "last_on_call") and "'d2'" in body["message"]
    status, body = leave(client, "s1", "d1", "t3")
    assert (status, body["error"]) == (409, "not_on_call") and "'d1'" in body["message"]
    status, body = leave(client, "s9", "d1", "t4")
    assert (status, body["error"]) == (404, "unknown_shift") and "'s9'" in body["message"]
    assert client.get("/shifts").get_json()[0] == {"shift": "s1", "on_call": ["d2"]}


@pytest.mark.parametrize(
    "body, named",
    [
        ({"doctor": "d1"}, "token"),
        ({"doctor": 7, "token": "t"}, "doctor"),
        ({"doctor": "d1", "token": "t t"}, "token"),
        ({"doctor": "d1", "token": "t", "extra": 1}, "extra"),
    ],
)
def test_a_bad_leave_is_400_naming_the_value(body, named, tmp_path):
    from servers import create_app, init_store

    init_store("json", "naive", tmp_path)
    client = create_app({"DATA_DIR": str(tmp_path)}).test_client()
    response = client.post("/shifts/s1/leave", json=body)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid"
    assert named in response.get_json()["message"]


def test_serve_seeds_the_rota_it_is_given(tmp_path):
    spec = TargetSpec("sqlite", "transactional", 1)
    extra = ["--shifts", "3", "--doctors", "3"]
    process, url = start_server(spec, tmp_path / "data", Settings(), tmp_path / "log", 0, True,
                                extra)  # fmt: skip
    try:
        with urllib.request.urlopen(f"{url}/shifts") as response:
            shifts = json.load(response)
    finally:
        stop_server(process)
    assert shifts == [{"shift": f"s{n}", "on_call": ["d1", "d2", "d3"]} for n in (1, 2, 3)]


# The checker, planted by hand: a tiny store in each documented format, and a history.


def a_leave(token, doctor, type_="ok", t0=0.0, t1=0.05, shift="s1"):
    """Return a leave record as racelab writes it (shift and doctor beside the usual fields)."""
    status = {"ok": 200, "fail": 409, "info": None}[type_]
    record = op_record("leave", 0, token, None, None, None, status, type_, t0, t1)
    return record | {"shift": shift, "doctor": doctor}


def minimal(record: dict) -> dict:
    """Keep only what another tool must write: op, type, t0, t1, the token, shift, doctor."""
    kept = ("op", "type", "t0", "t1", "token", "shift", "doctor")
    return {k: v for k, v in record.items() if k in kept}


def write_store(kind, tmp_path, shifts: dict):
    """Write a store of kind json or sqlite holding the rota shifts and no orders."""
    return write_rota_store(kind, tmp_path, shifts)


FORMS = [(k, streamed, small) for k in ("json", "sqlite") for streamed in (False, True)
         for small in (False, True)]  # fmt: skip


@pytest.fixture(params=FORMS, ids=[f"{k}{'-streamed' * s}{'-minimal' * m}" for k, s, m in FORMS])
def form(request):
    """Both store formats, the history held in memory or streamed, full or minimal."""
    return request.param


def run(form, tmp_path, shifts, records):
    """Check a hand-built rota against a hand-built history of leaves."""
    kind, streamed, small = form
    records = [minimal(r) for r in records] if small else records
    store = write_store(kind, tmp_path, shifts)
    if streamed:
        with history_stream(tmp_path / "h.jsonl", {"sku-1": 10}, records) as history:
            return check(store, history, min_overlaps=0)
    lines = [json.dumps(run_record("http://127.0.0.1:1", "x", 1, {}, {"sku-1": 10}))]
    return check(store, parse_lines(lines + [json.dumps(r) for r in records]), min_overlaps=0)


def test_two_overlapping_leaves_that_emptied_a_shift_are_write_skew(form, tmp_path):
    records = [a_leave("a1", "d1", t0=0.0, t1=0.05), a_leave("b1", "d2", t0=0.01, t1=0.06)]
    report = run(form, tmp_path, {"s1": [], "s2": ["d1", "d2"]}, records)
    assert report.anomalies == NONE | {"write_skew": 1}
    example = report.examples["write_skew"][0]
    assert example.text.startswith("shift s1 was left with nobody on call")
    assert example.tokens == ["a1", "b1"] and report.verdict == "failed"


def test_a_leave_acknowledged_and_its_doctor_still_on_call_is_lost(form, tmp_path):
    records = [a_leave("a1", "d1", t0=0.0, t1=0.05), a_leave("b1", "d2", t0=0.01, t1=0.06)]
    report = run(form, tmp_path, {"s1": ["d1"]}, records)
    assert report.anomalies == NONE | {"lost_leave": 1}
    assert report.examples["lost_leave"][0].tokens == ["a1"]


def test_one_leave_and_one_refused_leave_of_a_shift_hold(form, tmp_path):
    records = [a_leave("a1", "d1", t0=0.0, t1=0.05), a_leave("b1", "d2", "fail", 0.01, 0.06)]
    report = run(form, tmp_path, {"s1": ["d2"]}, records)
    assert report.anomalies == NONE and report.skipped == UNMADE


def test_without_a_history_an_empty_shift_is_still_write_skew_and_lost_leave_is_skipped(tmp_path):
    report = check(write_store("json", tmp_path, {"s1": []}))
    assert report.anomalies["write_skew"] == 1 and "lost_leave" in report.skipped
    assert "nobody on call: 0 leave(s)" in report.examples["write_skew"][0].text


class Answers(http.server.BaseHTTPRequestHandler):
    """A server of someone else's: answers GET paths from the class's table, else 404."""

    table: dict = {}

    def do_GET(self):
        path = self.path.split("?")[0]
        body = json.dumps(self.table.get(path, {"error": "not_found"})).encode()
        self.send_response(200 if path in self.table else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("rota", [[{"shift": "s1", "on_call": []}], None])
def test_the_api_check_reads_the_rota_and_a_server_without_one_skips_it(rota):
    table = {"/items": {"items": [{"sku": "sku-1", "stock": 10}]}, "/orders": {"orders": []}}
    if rota is not None:
        table["/shifts"] = rota
    handler = type("Table", (Answers,), {"table": table})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        records = [a_leave("a1", "d1", t0=0.0, t1=0.05), a_leave("b1", "d2", t0=0.01, t1=0.06)]
        lines = [json.dumps(run_record("http://127.0.0.1:1", "x", 1, {}, {"sku-1": 10}))]
        history = parse_lines(lines + [json.dumps(r) for r in records])
        report = check(f"http://127.0.0.1:{server.server_port}", history, min_overlaps=0)
    finally:
        server.shutdown()
        server.server_close()
    if rota is None:
        assert {"write_skew", "lost_leave"} <= set(report.skipped)
    else:
        assert report.anomalies["write_skew"] == 1 and report.verdict == "failed"


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

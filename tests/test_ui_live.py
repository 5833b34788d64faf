"""`racelab ui`'s live check, Step page source and play-the-rest, past runs side by side.

The live check runs in a worker process (racelab/ui/judge.py) and sends the first example
of each class as its swimlane once; the Step page names the line each held session waits
at; two past runs' verdicts come side by side.
"""

import ast
import json
import threading
from pathlib import Path

import pytest
from test_ui_api import Ui, descendants

from history import op_record, run_record
from racelab.ui import close_app, create_app
from racelab.ui.judge import judge
from racelab.ui.live import Watcher
from servers.registry import init_store
from shapes.reports import CompareReport, Verdict, write_shape
from tests.builders import compare_entry


def _history(path: Path, records: list[dict]) -> None:
    lines = [run_record("http://x", "now", 1, {}, {"sku-1": 10}), *records]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))


def _create(token: str, order_id, type_: str, t0: float, t1: float) -> dict:
    status = {"ok": 201, "info": None}[type_]
    return op_record("create", 1, token, "sku-1", 1, order_id, status, type_, t0, t1)


def test_the_worker_finds_a_lost_order_draws_it_once_and_never_judges_what_is_in_flight(
    tmp_path,
):
    store = init_store("json", "naive", tmp_path / "data", skus=1, stock=10)
    _history(tmp_path / "history.jsonl",
             [_create("t1", 1, "ok", 0.1, 0.2), _create("t3", 3, "ok", 0.6, 0.9)])  # fmt: skip
    request = {
        "copy": str(store), "shown": "data/store.json", "history": str(tmp_path / "history.jsonl"),
        "copied_at": 0.5,  # t3 was answered after the copy: not judged
        "pending": [_create("t2", None, "info", 0.3, 1.0)],  # in flight: not judged
        "drawn": [],
    }  # fmt: skip
    answer = judge(request)
    assert answer["anomalies"] == {"lost": 1}
    assert answer["provisional"] is True and answer["acknowledged"] == 1
    assert "t1" in answer["examples"]["lost"]
    assert set(answer["swimlanes"]) == {"lost"}
    svg = answer["swimlanes"]["lost"]
    assert svg.startswith("<svg") and "data-token='t1'" in svg
    assert judge({**request, "drawn": ["lost"]})["swimlanes"] == {}  # drawn once per target


def test_a_run_is_checked_live_by_a_worker_process_that_ends_with_the_run(tmp_path):
    ui = Ui(tmp_path)
    try:
        _, started = ui.call("POST", "/api/runs", {"targets": ["json:naive@1"], "duration": 4})
        workers, found = set(), None
        for event in ui.events(started["events"]):
            workers |= {p for p in descendants(ui.process.pid) if _is_judge(p)}
            if event["type"] == "check" and event.get("swimlanes"):
                found = found or event
            if event["type"] == "done":
                break
        assert workers, "the live check ran in a worker process under the ui"
        assert found is not None, "a live check sent a swimlane"
        for anomaly, svg in found["swimlanes"].items():
            assert found["anomalies"][anomaly] > 0 and f"data-anomaly='{anomaly}'" in svg
        assert descendants(ui.process.pid) == []  # the worker ended with the run
    finally:
        ui.close()


def _is_judge(pid: int) -> bool:
    try:
        return b"racelab.ui.judge" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.fixture
def app(tmp_path):
    made = create_app({"RUNS_DIR": str(tmp_path / "runs")})
    yield made
    close_app(made)


def _line(state: dict, session: str) -> str:
    """Return the source line the page lights for a session."""
    at = state["pause_lines"][session]
    block = next(b for b in state["source"] if b["file"] == at["file"]
                 and b["first"] <= at["line"] < b["first"] + b["text"].count("\n"))  # fmt: skip
    return block["text"].splitlines()[at["line"] - block["first"]]


def test_the_step_page_lights_each_sessions_pause_line_and_plays_the_rest(app):
    client = app.test_client()
    state = client.post("/api/step", json={"spec": "last-item-oversold", "target": "json:naive@1",
                                           "permutation": 2}).json  # fmt: skip
    assert [b["name"] for b in state["source"]][:2] == ["JsonStore._exclusive", "JsonStore._update"]
    assert 'pause("read")' in _line(state, "A") and 'pause("read")' in _line(state, "B")
    state = client.post(f"/api/step/{state['id']}/release", json={"session": "A"}).json
    assert 'pause("write")' in _line(state, "A") and 'pause("read")' in _line(state, "B")
    state = client.post(f"/api/step/{state['id']}/play-rest").json
    assert set(state["results"]) == {"1", "2"}  # every permutation's cell filled
    assert state["results"]["1"] == "held" and "lost" in state["results"]["2"]
    assert state["permutation"] == 2 and state["verdict"] is None  # ready to play again


def test_an_external_target_shows_no_source():
    from racelab.compare.external import parse_url_target
    from racelab.ui.source import strategy_source

    assert strategy_source(parse_url_target("url:http://127.0.0.1:9")) is None


def _report(runs: Path, run_id: str, verdicts: dict) -> None:
    (runs / run_id).mkdir(parents=True)
    targets = [compare_entry(target=t.split("@")[0], workers=int(t.split("@")[1]),
                             verdict=Verdict(v)) for t, v in verdicts.items()]  # fmt: skip
    report = CompareReport(settings={}, targets=targets, could_not_run=[], seconds=1.0)
    write_shape(runs / run_id / "report.json", report)


def test_two_past_runs_verdicts_side_by_side(app, tmp_path):
    runs = tmp_path / "runs"
    _report(runs, "20260101-000000", {"json:naive@1": "failed", "sqlite:transactional@4": "held"})
    _report(runs, "20260102-000000", {"json:naive@1": "held", "json:file-lock@4": "held"})
    client = app.test_client()
    answer = client.get("/api/past?a=20260101-000000&b=20260102-000000")
    assert answer.status_code == 200
    assert answer.json == {
        "runs": ["20260101-000000", "20260102-000000"],
        "rows": [
            {"target": "json:naive@1", "verdicts": ["failed", "held"], "same": False},
            {"target": "sqlite:transactional@4", "verdicts": ["held", None], "same": False},
            {"target": "json:file-lock@4", "verdicts": [None, "held"], "same": False},
        ],
    }
    page = client.get("/past?a=20260101-000000&b=20260102-000000").get_data(as_text=True)
    assert 'id="pair-table"' in page and "not run" in page
    for bad in ("nope", "../20260101-000000"):
        answer = client.get(f"/api/past?a=20260101-000000&b={bad}")
        assert answer.status_code == 404 and answer.json["error"] == "no_such_run"
        assert bad in answer.json["message"]


def test_the_ui_sends_setup_orders_through_the_runners_public_function():
    source = Path(__file__).parents[1] / "racelab/ui/stepping.py"
    private = [
        alias.name
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == "racelab.step.runner"
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []


def test_a_check_that_outlives_its_targets_load_is_never_shown_as_the_next_targets(tmp_path):
    # Seen on a busy machine: json:naive's last live check came back once sqlite's load
    # had begun, and sqlite:transactional@4's card showed naive's lost orders.
    events = []
    watcher = Watcher(events.append, threading.Event())
    watcher.start_target("json:naive@1", tmp_path / "a", True)
    watcher.start_target("sqlite:transactional@4", tmp_path / "b", True)
    watcher.checked("json:naive@1", {"acknowledged": 9, "stored": 7, "anomalies": {"lost": 2}})
    assert events[-1]["target"] == "json:naive@1" and events[-1]["anomalies"] == {"lost": 2}
    assert watcher.latest == {"acknowledged": 0, "stored": 0, "anomalies": {}}
    watcher.checked("sqlite:transactional@4", {"acknowledged": 5, "stored": 5, "anomalies": {}})
    assert events[-1]["target"] == "sqlite:transactional@4" and watcher.latest["stored"] == 5
    watcher.close()

"""`racelab ui`'s API: bad input answers 400 in the contract's shape, a host beyond loopback
asks for the token, a stopped run ends with a done event and leaves no server behind."""

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from racelab.ui import create_app


@pytest.fixture
def client(tmp_path):
    return create_app({"RUNS_DIR": str(tmp_path / "runs")}).test_client()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"targets": ["json:nope@1"]}, "json:nope@1"),
        ({"targets": []}, "targets"),
        ({"targets": ["json:naive@1"], "vus": 0}, "vus"),
        ({"targets": ["json:naive@1"], "duration": -1}, "duration"),
        ({"targets": ["json:naive@1"], "duration": "2s"}, "duration"),
        ({"targets": ["json:naive@1"], "mix": "create=x"}, "create=x"),
        ({"targets": ["json:naive@1"], "faults": "flood"}, "flood"),
        ({"targets": ["json:naive@1"], "colour": "red"}, "colour"),
        ({"targets": ["json:naive@1"], "workload": "payroll"}, "payroll"),
        ({"targets": ["url:http://example.com:80"]}, "example.com"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_run_settings_answer_400_naming_the_value(client, body, named):
    answer = client.post("/api/runs", json=body)
    assert answer.status_code == 400
    assert set(answer.json) == {"error", "message"} and named in answer.json["message"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"spec": "no-such-spec", "target": "json:naive@1"}, "no-such-spec"),
        ({"spec": "last-item-oversold", "target": "json:nope"}, "json:nope"),
        ({"spec": "last-item-oversold", "target": "json:naive@1", "permutation": 9}, "9"),
        ({"spec": "[[session]]\nname = 1\n", "target": "json:naive@1"}, "spec"),
    ],
)
def test_bad_step_requests_answer_400(client, body, named):
    answer = client.post("/api/step", json=body)
    assert answer.status_code == 400 and named in answer.json["message"]


def test_unknown_run_and_step_answer_404_as_json(client):
    for url in ("/api/runs/nope/events", "/api/step/nope", "/no-such-page"):
        answer = client.get(url)
        assert answer.status_code == 404 and "error" in answer.json


class Ui:
    """A `racelab ui` process on a free port."""

    def __init__(self, tmp_path: Path, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "racelab", "ui", "--port", "0", "--runs",
             str(tmp_path / "runs"), *args],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        line = self.process.stderr.readline()
        assert line.startswith("racelab ui: http://"), line
        self.url = line.split(": ", 1)[1].strip()
        self.base = self.url.split("?")[0].rstrip("/")

    def call(self, method: str, path: str, body=None, token: str = ""):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path + token, data=data, method=method,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=120) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def events(self, path: str):
        """Yield the event stream's JSON objects."""
        with urllib.request.urlopen(self.base + path, timeout=120) as stream:
            for raw in stream:
                if raw.startswith(b"data: "):
                    yield json.loads(raw[6:])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)
        self.process.stderr.close()


@pytest.fixture
def ui(tmp_path):
    running = Ui(tmp_path)
    yield running
    running.close()


def descendants(pid: int) -> list[int]:
    """Return every live process under pid (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def test_a_host_beyond_loopback_answers_403_without_the_token(tmp_path):
    ui = Ui(tmp_path, "--host", "127.0.0.2")
    try:
        token = ui.url.split("?token=", 1)[1]
        assert len(token) >= 16
        status, body = ui.call("GET", "/api/runs")
        assert status == 403 and body["error"] == "forbidden"
        assert ui.call("GET", "/api/runs", token="?token=wrong")[0] == 403
        assert ui.call("GET", "/api/runs", token=f"?token={token}") == (200, {"runs": []})
    finally:
        ui.close()


def test_a_stopped_run_ends_with_a_done_event_and_no_server_left(ui):
    status, started = ui.call("POST", "/api/runs", {"targets": ["json:naive@1",
                                                                "sqlite:transactional@4"],
                                                    "duration": 60, "vus": 10})  # fmt: skip
    assert status == 201 and started["events"] == f"/api/runs/{started['id']}/events"
    events = ui.events(started["events"])
    first = next(e for e in events if e["type"] == "progress")
    assert {"target", "elapsed_s", "requests", "rps", "p99_ms", "acknowledged", "stored",
            "anomalies"} <= set(first)  # fmt: skip
    assert descendants(ui.process.pid), "the run's server runs under the ui"
    status, stopped = ui.call("POST", f"/api/runs/{started['id']}/stop")
    assert status == 200 and stopped["status"] == "stopped"
    done = [e for e in events if e["type"] in ("finished", "done")]
    assert [e["type"] for e in done] == ["finished", "done"]  # json:naive checked, sqlite not
    naive = {"target": "json:naive@1", "verdict": done[0]["verdict"]}
    assert done[-1]["targets"] == [naive, {"target": "sqlite:transactional@4", "verdict": None}]
    assert descendants(ui.process.pid) == []
    report = Path(ui.call("GET", "/api/runs")[1]["runs"][0]["report"].split("/")[2])
    with urllib.request.urlopen(f"{ui.base}/runs/{report}/report.html", timeout=10) as page:
        assert b"json:naive" in page.read()


def test_sigterm_stops_the_ui_and_the_run_it_started(ui):
    status, started = ui.call("POST", "/api/runs", {"targets": ["sqlite:transactional@1"],
                                                    "duration": 60, "vus": 5})  # fmt: skip
    assert status == 201
    next(e for e in ui.events(started["events"]) if e["type"] == "progress")
    under = descendants(ui.process.pid)
    assert under
    ui.close()
    left = [pid for pid in under if Path(f"/proc/{pid}").exists()]
    assert left == [], left
    assert ui.process.returncode == 143  # SIGTERM unwinds it as Ctrl-C does, with one line


def test_a_run_of_the_on_call_workload_checks_the_rota(ui):
    # The naive read-decide-write loses leaves: the rota's own checks, not the orders'. A
    # race, not a certainty: under ten CPU burners half the 2 s runs lost none (and held),
    # and a fresh clone's CI saw a run whose store.json was left torn and no leave lost in
    # what could be read of it (corrupt_store alone). A run that showed no lost leave is
    # tried again, up to five, until one does.
    body = {"targets": ["json:naive@1"], "workload": "oncall", "duration": 2}
    for _ in range(5):
        status, started = ui.call("POST", "/api/runs", body)
        assert status == 201
        events = list(ui.events(started["events"]))
        finished = next(e for e in events if e["type"] == "finished")
        if finished["anomalies"].get("lost_leave", 0) > 0:
            break
        # Nothing found (held or inconclusive), or a torn store and no lost leave seen.
        assert set(finished["anomalies"]) <= {"corrupt_store"}, finished
    assert finished["verdict"] == "failed"
    assert finished["anomalies"].get("lost_leave", 0) > 0, finished

"""Faults as an experiment variable: kills and retries, and what each strategy keeps."""

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from history import read_history
from racelab.compare.external import free_port
from racelab.compare.faults import Killer, kill_times, wait_for_port
from racelab.compare.launch import launch
from racelab.compare.process import stop_server, wait_for_health
from racelab.compare.settings import Settings
from racelab.compare.targets import parse_spec
from racelab.step.runner import run_permutation
from racelab.step.spec import load_spec
from tests.live import require_postgres

SPECS = Path(__file__).resolve().parent.parent / "specs"


def test_kill_times_are_seeded_spread_and_inside_the_run():
    times = kill_times(7, "json-naive-1w", 3, 10.0)
    assert times == kill_times(7, "json-naive-1w", 3, 10.0)
    assert times != kill_times(8, "json-naive-1w", 3, 10.0)
    assert times == sorted(times) and 1.0 < times[0] and times[-1] < 8.0


def test_a_restart_waits_for_the_killed_servers_port_to_be_let_go():
    # A CI run's json:file-lock@2 restart found its port still taken: a killed worker in an
    # fsync lets go of the listening socket only when the call returns.
    holder = socket.create_server(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    threading.Timer(0.5, holder.close).start()
    started = time.monotonic()
    wait_for_port("127.0.0.1", port)
    waited = time.monotonic() - started
    assert waited >= 0.4, waited
    socket.create_server(("127.0.0.1", port)).close()  # free, as the restart will find it
    with socket.create_server(("127.0.0.1", 0)) as kept:  # never let go: it gives up
        started = time.monotonic()
        wait_for_port("127.0.0.1", kept.getsockname()[1], seconds=0.3)
        assert 0.3 <= time.monotonic() - started < 10


def compare(tmp_path, *args):
    """Run racelab compare; return its report.json."""
    result = subprocess.run(
        [sys.executable, "-m", "racelab", "compare", "--out", str(tmp_path), "--vus", "20", *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((tmp_path / "report.json").read_text())


def assert_every_kill_came_back(entry: dict, planned: int) -> None:
    """At least one kill was made, every one came back, and none went unaccounted for."""
    # A kill due during a slow restart waits for it, so a loaded machine may reach the load's
    # end first: how many are made depends on its speed, that the rest are listed does not.
    made = entry["faults"]
    assert made and all(e["restarted"] for e in made), made
    assert len(made) + len(entry["kills_unmade"]) == planned, entry


def test_safe_strategies_survive_kills_and_lose_no_acknowledged_write(tmp_path):
    report = compare(
        tmp_path,
        "--faults",
        "kill",
        "--kills",
        "2",
        "--duration",
        "5s",
        "--targets",
        "sqlite:transactional@2,json:file-lock@2",
    )
    for entry in report["targets"]:
        assert entry["verdict"] == "held", (entry["target"], entry["anomalies"])
        assert_every_kill_came_back(entry, planned=2)
        ops = read_history(tmp_path / entry["dir"] / "history.jsonl").ops
        refused = [r for r in ops if r["error"] == "connect refused"]
        assert refused and all(r["type"] == "fail" for r in refused)


def test_a_killed_postgres_target_restarts_on_its_recovered_database(tmp_path):
    # The kill takes the private PostgreSQL server with it (one process group): the restart
    # waits for the killed postmaster to be gone, and the database recovers from its WAL.
    require_postgres()
    report = compare(tmp_path, "--faults", "kill", "--kills", "2", "--duration", "5s",
                     "--targets", "postgres:for-update@2")  # fmt: skip
    (entry,) = report["targets"]
    assert_every_kill_came_back(entry, planned=2)
    # Every acknowledged write is in the recovered database, as the check read it after the
    # run. Held, or inconclusive: a busy machine may spend most of the 5 s on the two
    # recoveries, leaving fewer overlapping writes than `held` asks for (one did, under five
    # test processes on 2 cores), and the load may end before the last restart answers one.
    assert entry["verdict"] in ("held", "inconclusive"), entry["anomalies"]
    assert not any(entry["anomalies"].values()), entry["anomalies"]


def test_retries_store_duplicates_only_in_naive_strategies(tmp_path):
    report = compare(
        tmp_path,
        "--faults",
        "retry",
        "--max-requests",
        "300",
        "--duration",
        "60s",
        "--mix",
        "create=1",
        "--targets",
        "sqlite:naive@2,sqlite:transactional@2,json:file-lock@2",
    )
    by_target = {e["target"]: e for e in report["targets"]}
    assert by_target["sqlite:naive"]["anomalies"]["duplicated"] > 0
    for safe in ("sqlite:transactional", "json:file-lock"):
        assert by_target[safe]["verdict"] == "held", by_target[safe]["anomalies"]
        ops = read_history(tmp_path / by_target[safe]["dir"] / "history.jsonl").ops
        assert any(r["attempt"] > 0 for r in ops), "no retry happened"
    assert report["settings"]["retries"] == 3 and report["settings"]["timeout"] == 0.1


@pytest.mark.parametrize("target", ["json:file-lock@1", "sqlite:transactional@4"])
def test_a_retry_that_arrives_while_the_first_copy_is_in_flight_is_answered_as_a_replay(target):
    # Under load, whether a retry is answered before its own timeout depends on the
    # machine's speed; stepped, the retry always comes while the first copy is writing.
    spec = load_spec(SPECS / "retried-token.toml")
    outcome = run_permutation(spec, parse_spec(target), spec.permutations[1])
    first, retry = outcome.answers
    assert (first.status, retry.status) == (201, 200)
    assert retry.body["id"] == first.body["id"] and outcome.verdict == "held"


@pytest.mark.parametrize("kills", [3])
def test_naive_json_killed_mid_write_is_reported_not_hidden(tmp_path, kills):
    report = compare(
        tmp_path,
        "--faults",
        "kill",
        "--kills",
        str(kills),
        "--duration",
        "5s",
        "--targets",
        "json:naive",
    )
    [entry] = report["targets"]
    assert entry["verdict"] == "failed"
    assert len(entry["faults"]) >= 1


def test_kills_still_to_come_when_the_load_ends_are_listed_not_dropped(tmp_path):
    # A real target, killed once at 0.2 s; the load "ends" (finish) before 30 s and 40 s.
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    spec, settings = parse_spec("sqlite:transactional@1"), Settings()
    process, url = launch(spec, data_dir, settings, log, port=free_port())
    killer = Killer(spec, data_dir, settings, log, process, url, [0.2, 30.0, 40.0])
    killer.start()
    deadline = time.monotonic() + 60
    while not killer.events and time.monotonic() < deadline:
        time.sleep(0.05)
    process = killer.finish()
    try:
        made, unmade = killer.outcome()
        assert [e.restarted for e in made] == [True], made
        assert unmade == [30.0, 40.0]
        wait_for_health(url, process)  # the restarted server serves on the same port
    finally:
        stop_server(process)

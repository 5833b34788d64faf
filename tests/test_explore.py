"""`racelab explore`: interleavings searched on real servers (a racelab target and a server
of a user's that pauses by the pause protocol), checked, and written as specs that replay."""

import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.labs import LABS, adapt, explorations, explored_mismatches, run_command
from racelab.explore import schedules
from racelab.explore.requests import ExploreError, alone, build_spec
from racelab.step.spec import tomllib
from tests.builders import create, history_lines, order, write_json_store

ROOT = Path(__file__).resolve().parent.parent
WSGI_SHOP = (f"{sys.executable} {ROOT}/examples/pause/wsgi_shop.py"
             " --port {port} --data {data_dir} --skus {skus} --stock {stock}")  # fmt: skip
NODE = Path(sys.executable).parent / "node"
EXPRESS = (f"{NODE} {ROOT}/examples/express/server.js --store json"
           " --port {port} --data {data_dir} --skus {skus} --stock {stock}")  # fmt: skip
TWO_CREATES = ["--request", "A: create sku-1 1", "--request", "B: create sku-1 1"]
SERIAL = [["A.read", "A.write", "B.read", "B.write"], ["B.read", "B.write", "A.read", "A.write"]]


def racelab(*args, timeout=300) -> subprocess.CompletedProcess:
    """Run the racelab command line as a user does."""
    return subprocess.run([sys.executable, "-m", "racelab", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)  # fmt: skip


def explore(tmp_path, *args, timeout=300) -> tuple[subprocess.CompletedProcess, dict | None]:
    """Run `racelab explore ARGS --out --json`; return the run and its JSON (None: none)."""
    out = tmp_path / "found.json"
    # A step that has not reached its next point within the block wait counts as blocked: on
    # a slow, busy machine 1 s could misjudge an unsafe server's step. Where nothing blocks,
    # a longer wait costs nothing (each wait ends the moment the session arrives).
    wait = [] if "--block-wait" in args else ["--block-wait", "10s"]
    run = racelab("explore", *args, *wait, "--out", str(tmp_path / "specs"), "--json", str(out),
                  timeout=timeout)  # fmt: skip
    return run, json.loads(out.read_text()) if out.exists() else None


@pytest.fixture(scope="module")
def naive_explored(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict, Path]:
    """Explore json:naive@1 with two creates of 2 on a set-up store, once for the tests that
    read its outcome and its JSON; return the run, its JSON and its folder."""
    tmp_path = tmp_path_factory.mktemp("naive")
    requests = ["--request", "A: create sku-1 2", "--request", "B: create sku-1 2"]
    run, found = explore(tmp_path, "--target", "json:naive@1", "--setup", "skus=1,stock=5",
                         *requests)  # fmt: skip
    return run, found, tmp_path


def test_explore_finds_every_failing_schedule_of_json_naive_and_each_spec_replays(
    naive_explored,
):
    run, found, _ = naive_explored
    assert run.returncode == 1, run.stdout + run.stderr
    assert found["points"] == {"A": ["read", "write", "truncated"],
                               "B": ["read", "write", "truncated"]}  # fmt: skip
    assert (found["schedules"], found["run"], found["sampled"]) == (20, 20, False)
    failing = found["failing"]
    # Each session reads before the other writes: 12 of the 20 interleavings lose an order.
    assert len(failing) == 12
    assert all(set(f["anomalies"]) == {"lost", "id_collision"} for f in failing)
    assert not any(f["steps"][:3] == ["A.read", "A.write", "A.truncated"] for f in failing)
    switches = [schedules.switches([s.split(".") for s in f["steps"]]) for f in failing]
    assert switches == sorted(switches) and switches[0] == 2
    assert "12 failed, of all 20 of 20 interleavings" in run.stdout
    replay = racelab("step", failing[0]["spec"], "--target", "json:naive@1")
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "verdict: FAILED: lost 1, id_collision 1" in replay.stdout


def test_the_json_names_the_schedules_run_and_each_failing_ones_steps_anomalies_and_spec(
    naive_explored,
):
    run, found, tmp_path = naive_explored
    assert run.returncode == 1, run.stdout + run.stderr
    assert set(found) == {"target", "points", "schedules", "run", "sampled", "seed", "failing"}
    first = found["failing"][0]
    assert set(first) == {"steps", "anomalies", "spec", "answers"}
    assert first["steps"] == ["A.read", "B.read", "B.write", "B.truncated", "A.write",
                              "A.truncated"]  # fmt: skip
    assert first["answers"] == ["A: create a1 201 id=1", "B: create b1 201 id=1"]
    spec = Path(first["spec"])
    assert spec.parent == tmp_path / "specs" and spec.name == "failing-01.toml"
    written = tomllib.loads(spec.read_text())
    assert written["setup"] == {"skus": 1, "stock": 5}
    assert written["permutations"] == [first["steps"]]
    assert "racelab step THIS_FILE --target json:naive@1" in spec.read_text()


@pytest.mark.parametrize("name,command", [("wsgi-shop", WSGI_SHOP), ("express-json", EXPRESS)])
def test_explore_finds_a_users_servers_lost_order_with_no_spec_in_under_30_s(
    tmp_path, name, command
):
    started = time.monotonic()
    run, found = explore(tmp_path, "--external", f"{name}={command}", *TWO_CREATES)
    elapsed = time.monotonic() - started
    assert run.returncode == 1, run.stdout + run.stderr
    assert found["points"] == {"A": ["read", "write"], "B": ["read", "write"]}
    assert (found["schedules"], found["run"]) == (6, 6)
    failing = sorted(f["steps"] for f in found["failing"])
    # Every interleaving but the two serial ones reads the last unit twice.
    assert failing == sorted(s for s in map(list, _two_by_two()) if s not in SERIAL)
    assert all("lost" in f["anomalies"] for f in found["failing"])
    assert elapsed < 30, f"six interleavings and two learning runs took {elapsed:.1f} s"
    replay = racelab("step", found["failing"][0]["spec"], "--external", f"{name}={command}")
    assert replay.returncode == 1, replay.stdout + replay.stderr


def test_explore_finds_the_data_json_servers_lost_order_at_its_own_file_operations(tmp_path):
    run, found = explore(tmp_path, "--external", f"express-json={EXPRESS}", "--file-points",
                         *TWO_CREATES)  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert found["points"] == {"A": ["open", "read", "write"], "B": ["open", "read", "write"]}
    assert (found["schedules"], found["run"]) == (20, 20)
    # Exactly the interleavings where each session reads the file before the other writes
    # it: the same set every run, since a held read no longer holds up the other's open.
    failing = {tuple(f["steps"]) for f in found["failing"]}
    both_read_first = {
        s for s in _interleavings(["open", "read", "write"])
        if s.index("A.read") < s.index("B.write") and s.index("B.read") < s.index("A.write")
    }  # fmt: skip
    assert failing == both_read_first
    assert all(set(f["anomalies"]) == {"lost", "id_collision"} for f in found["failing"])


def _interleavings(points: list[str]) -> set[tuple[str, ...]]:
    """Return every interleaving of sessions A and B, each passing points in order."""
    found = set()
    for a_at in itertools.combinations(range(2 * len(points)), len(points)):
        a, b = iter(points), iter(points)
        found.add(tuple(f"A.{next(a)}" if i in a_at else f"B.{next(b)}"
                        for i in range(2 * len(points))))  # fmt: skip
    return found


# Lab 10's explore of the Express + pg twin, run here as its reader runs it: its promise must
# hold, and what it shows in more detail (the lab's own test runs its other two explores).
LAB10 = next(lab for lab in LABS if lab.stem.startswith("10"))
((PG_EXPLORE, PG_PROMISE),) = [(c, e) for c, e in explorations(LAB10.read_text()) if "'pg=" in c]


def test_explore_finds_the_express_pg_servers_lost_update_at_its_own_sql(tmp_path):
    # A sample of 6 of the 20 (each one restarts the server on an emptied database); every
    # interleaving is run on the data.json server above.
    run = run_command(PG_EXPLORE, tmp_path)
    assert explored_mismatches(run, PG_EXPLORE, PG_PROMISE, tmp_path) == []
    args = adapt(PG_EXPLORE, tmp_path)
    found = json.loads(Path(args[args.index("--json") + 1]).read_text())
    # Its token lookup and stock read are two SELECTs met at once: one step.
    assert found["points"] == {"A": ["select", "update", "insert"],
                               "B": ["select", "update", "insert"]}  # fmt: skip
    assert "A alone reached select select update insert" in run.stderr
    assert (found["schedules"], found["run"], found["sampled"]) == (20, 6, True)
    serial = ["A.select", "A.update", "A.insert", "B.select", "B.update", "B.insert"]
    assert found["failing"] and serial not in [f["steps"] for f in found["failing"]]
    for failing in found["failing"]:  # each one has both sessions read before either writes
        steps = failing["steps"]
        assert steps.index("B.select") < steps.index("A.update"), steps
        assert steps.index("A.select") < steps.index("B.update"), steps
        assert set(failing["anomalies"]) == {"stock_mismatch", "oversold"}


def test_sigterm_stops_the_exploration_and_every_server_it_started(tmp_path):
    mark = f"RACELAB_EXPLORE_TEST={tmp_path.name}"
    args = [sys.executable, "-m", "racelab", "explore", "--external", f"m=env {mark} {WSGI_SHOP}",
            "--setup", "skus=1,stock=10", "--out", str(tmp_path),
            *[x for s in "AB" for x in ("--request", f"{s}: create sku-1 1")] * 3]  # fmt: skip
    with subprocess.Popen(args, stderr=subprocess.PIPE, text=True, cwd=ROOT) as process:
        try:
            for line in process.stderr:  # a line comes per run; the wait below is bounded
                if line.startswith("1/"):
                    break
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 143
            assert "racelab explore: stopped by SIGTERM" in process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
    assert _marked(mark) == []


def _marked(mark: str) -> list[int]:
    """Return the pids of processes whose environment holds mark."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if mark.encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def test_check_repro_on_a_users_server_steps_it_at_its_own_points_and_replays(tmp_path):
    # Two creates overlapped and were both given id 1; only b's order was stored.
    records = [create("a", order_id=1, t0=0.0, t1=0.5, vu=1),
               create("b", order_id=1, t0=0.1, t1=0.6, vu=2)]  # fmt: skip
    store = write_json_store(tmp_path / "store.json", {"sku-1": 98}, [order(1, "b")])
    history = tmp_path / "h.jsonl"
    history.write_text("\n".join(history_lines({"sku-1": 100}, records)) + "\n")
    repro = ["check", str(store), "--history", str(history), "--repro", str(tmp_path / "r")]
    run = racelab(*repro, "--external", f"shop={WSGI_SHOP}", "--repeat", "3")
    assert run.returncode == 1, run.stdout + run.stderr
    spec = tomllib.loads((tmp_path / "r" / "lost-a.toml").read_text())
    assert spec["permutations"] == [["A.read", "A.write", "B.read", "B.write"],
                                    ["A.read", "B.read", "A.write", "B.write"],
                                    ["B.read", "A.read", "B.write", "A.write"]]  # fmt: skip
    assert "lost-a.toml: reproduced lost 3/3 (permutation 2)" in run.stderr
    both = racelab(*repro, "--external", f"shop={WSGI_SHOP}", "--target", "json:naive@1")
    assert both.returncode == 2 and "one --target or one --external" in both.stderr


def _two_by_two():
    lanes = [[("A", "read"), ("A", "write")], [("B", "read"), ("B", "write")]]
    return [[f"{s}.{p}" for s, p in schedule] for schedule in schedules.every(lanes)]


def test_a_safe_target_holds_in_every_interleaving_and_exits_0(tmp_path):
    # Its lock says when a request waits for it (a wait notice), so no block wait is spent.
    run, found = explore(tmp_path, "--target", "json:file-lock@1", "--block-wait", "1s",
                         *TWO_CREATES)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert (found["schedules"], found["run"], found["failing"]) == (20, 20, [])
    assert "every one held: all 20 of 20 interleavings" in run.stdout
    assert not (tmp_path / "specs").exists()


def test_two_leaves_of_one_shift_lose_a_leave_when_interleaved(tmp_path):
    run, found = explore(tmp_path, "--target", "json:naive@1", "--request", "A: leave s1 d1",
                         "--request", "B: leave s1 d2")  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert {a for f in found["failing"] for a in f["anomalies"]} == {"lost_leave"}


def test_a_budget_below_the_count_runs_a_seeded_sample_the_same_each_time(tmp_path):
    args = ["--target", "json:naive@1", *TWO_CREATES, "--budget", "5", "--seed", "7"]
    first, found = explore(tmp_path / "one", *args)
    again, same = explore(tmp_path / "two", *args)
    assert (found["schedules"], found["run"], found["sampled"]) == (20, 5, True)
    assert [f["steps"] for f in found["failing"]] == [f["steps"] for f in same["failing"]]
    assert "5 of 20 interleavings (a sample favouring few preemptions, seed 7)" in first.stdout


def test_a_sample_is_distinct_interleavings_serial_ones_first_and_fixed_by_its_seed():
    lanes = [[(s, p) for p in ("lock", "read", "write", "commit")] for s in "ABC"]
    assert schedules.count(lanes) == 34650
    picked = schedules.sample(lanes, 50, seed=3)
    assert len(picked) == len({tuple(s) for s in picked}) == 50
    assert picked == schedules.sample(lanes, 50, seed=3)
    assert picked != schedules.sample(lanes, 50, seed=4)
    for schedule in picked:
        assert [s for s in schedule if s[0] == "B"] == lanes[1]  # each lane keeps its order
    # Depth 1 first: the 3! serial orders, then schedules of one preemption.
    assert [schedules.switches(s) for s in picked[:6]] == [2] * 6
    assert max(schedules.switches(s) for s in picked) < 11


def test_every_interleaving_is_counted_and_listed_fewest_switches_first():
    lanes = [[("A", "read"), ("A", "write")], [("B", "read"), ("B", "write")]]
    chosen, sampled = schedules.choose(lanes, 200, 0)
    assert not sampled and len(chosen) == schedules.count(lanes) == 6
    assert [schedules.switches(s) for s in chosen] == [1, 1, 2, 2, 3, 3]


def test_a_session_alone_first_stores_the_orders_it_cancels_that_another_creates():
    spec = build_spec(["A: create sku-1 1", "B: cancel a1"], "skus=1,stock=3")
    learning = alone(spec, "B")
    assert [s.name for s in learning.sessions] == ["B"]
    assert learning.orders == [{"sku": "sku-1", "qty": 1, "token": "a1"}]


@pytest.mark.parametrize(
    "requests,setup,problem",
    [
        (["A create sku-1 1"], None, "is not 'SESSION: OP ARGS'"),
        (["A: buy sku-1 1"], None, "the op must be one of create, cancel, leave"),
        (["A: create sku-1"], None, "create takes SKU QTY"),
        (["A: create sku-1 x"], None, "QTY must be a whole number"),
        (["A: cancel 2"], "orders=1", "a fresh store has orders 1..1"),
        (["A: cancel zz"], None, "names token 'zz', which no create and no setup order makes"),
        (["A: create sku-1 1"], "skus=0", "setup needs skus 1..1000"),
        (["A: create sku-1 1"], "colour=red", "'colour=red' is not KEY=NUMBER"),
        (["A b: create sku-1 1"], None, "session name 'A b' must be"),
    ],
)
def test_a_request_or_setup_explore_cannot_use_says_why(requests, setup, problem):
    with pytest.raises(ExploreError, match=problem.replace("(", r"\(").replace(".", r"\.")):
        build_spec(requests, setup)


@pytest.mark.parametrize(
    "args,says",
    [
        (TWO_CREATES, "name one --target or one --external"),
        (["--target", "json:naive@1"], "give the sessions' requests"),
        (["--target", "json:naive@1", "--external", f"x={WSGI_SHOP}", *TWO_CREATES],
         "name one --target or one --external"),
        (["--target", "json:nope@1", *TWO_CREATES], "--target"),
        (["--external", "x=server", *TWO_CREATES], "the command must take its port from {port}"),
        (["--target", "json:naive@1", "--request", "A: buy sku-1 1"],
         "racelab explore: 'A: buy sku-1 1': the op must be one of create, cancel, leave"),
        (["--target", "json:naive@1", *TWO_CREATES, "--budget", "0"], "--budget"),
        (["--external", "bad=/nonexistent/server {port}", *TWO_CREATES],
         "racelab explore: bad: cannot start '/nonexistent/server': No such file or directory"),
        (["--external", f"quiet=env -u RACELAB_STEP_SOCKET {WSGI_SHOP}", *TWO_CREATES],
         "racelab explore: quiet: no session reached a pause point when it ran alone "
         "(no pause() call, and no SQL statement or file operation racelab was asked to step)"),
    ],
)  # fmt: skip
def test_bad_usage_and_a_server_that_cannot_be_explored_exit_2_in_one_line(tmp_path, args, says):
    run, found = explore(tmp_path, *args, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert says in run.stderr and "Traceback" not in run.stderr
    assert found is None

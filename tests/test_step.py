"""racelab step: real servers driven through chosen interleavings, the same way every time."""

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest

from racelab.compare.targets import parse_spec
from racelab.step import run
from racelab.step.runner import StepServer, stepped_server
from racelab.step.scheduler import Scheduler
from racelab.step.spec import Session, StepSpecError, every_interleaving, is_serial, load_spec
from racelab.step.spec import parse_spec as spec_of
from servers.registry import STRATEGIES
from servers.stepping import COMMON_POINTS

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.toml"))


@pytest.fixture(scope="module")
def stepped():
    """Return the module's stepped server for a target, started at its first use and its store
    reseeded before each permutation after (as `racelab step` runs many on one server)."""
    with contextlib.ExitStack() as stack:
        servers: dict[str, StepServer] = {}

        def server_for(target: str) -> StepServer:
            if target not in servers or servers[target].spoiled:
                servers[target] = stack.enter_context(stepped_server(parse_spec(target)))
            return servers[target]

        yield server_for


def test_a_spec_fails_only_when_interleaved_one_session_after_another_holds_everywhere():
    for path in SPECS:
        spec = load_spec(path)
        serial = [is_serial(p) for p in spec.permutations]
        assert serial.count(False) >= 1, path.stem  # something to show
        for target, cells in spec.expected.items():
            assert all(c.startswith("held") for c, s in zip(cells, serial, strict=True) if s), (
                path.stem,
                target,
            )


def test_every_documented_failure_has_a_failing_cell_and_a_safe_target_holds_throughout():
    failing = {t for p in SPECS for t, cells in load_spec(p).expected.items()
               if any(c != "held" and not c.startswith("held ") for c in cells)}  # fmt: skip
    assert {"json:naive@1", "json:thread-lock@4", "json:optimistic@1", "sqlite:naive@1"} <= failing
    for path in SPECS:
        spec = load_spec(path)
        expected = spec.expected
        safe = [t for t in expected if expected_verdict(t, spec) == "held"]
        common = all(p in COMMON_POINTS for steps in spec.permutations for _, p in steps)
        assert safe or not common, path.stem  # a spec on common points runs on the safe ones
        for target in safe:
            assert all(c.startswith("held") for c in expected[target]), (path.stem, target)


def expected_verdict(target: str, spec) -> str:
    """Return what target claims to give on spec's workload (orders, or on-call leaves)."""
    parsed = parse_spec(target)
    return STRATEGIES[parsed.backend][parsed.strategy].expected(parsed.workers, spec.workload)


def claimed_rows(workload: str = "orders") -> dict[str, str]:
    """Return backend:strategy -> the target a claim to hold must be stepped at."""
    return {f"{backend}:{name}": f"{backend}:{name}@{cls.holds_up_to or 4}"
            for backend, names in STRATEGIES.items() for name, cls in names.items()
            if cls.expected(1, workload) == "held"}  # fmt: skip


def test_every_claim_to_hold_is_backed_by_a_held_row_in_every_spec_on_the_common_points():
    """A strategy that claims to hold has a row in each spec any strategy can run, all held."""
    for path in SPECS:
        spec = load_spec(path)
        if not all(p in COMMON_POINTS for steps in spec.permutations for _, p in steps):
            continue
        for strategy, target in claimed_rows(spec.workload).items():
            cells = spec.expected.get(target)
            assert cells, f"{path.name}: no row for {target}, so {strategy}'s claim is unbacked"
            assert all(c.startswith("held") for c in cells), (path.name, target, cells)


def test_one_token_on_two_skus_is_stored_once_by_every_strategy_that_claims_to_hold():
    spec = load_spec(SPECS[0].parent / "same-token-two-skus.toml")
    assert set(claimed_rows().values()) <= set(spec.expected)
    interleaved = [cells[1] for cells in spec.expected.values()]
    assert any("duplicated" in cell for cell in interleaved)  # the spec can fail


@pytest.mark.parametrize("target", ["json:naive@1", "sqlite:naive@4", "json:file-lock@1"])
def test_an_interleaving_gives_the_same_outcome_every_time(stepped, target):
    spec = load_spec(SPECS[0].parent / "last-item-oversold.toml")
    interleaved = spec.permutations[1]
    outcomes = [stepped(target).run(spec, interleaved) for _ in range(5)]
    assert len({o.key() for o in outcomes}) == 1, [o.key() for o in outcomes]
    assert len({tuple(s.outcome for s in o.steps) for o in outcomes}) == 1


def test_sessions_of_a_multi_worker_target_reach_different_processes(stepped):
    spec = load_spec(SPECS[0].parent / "two-orders-same-id.toml")
    outcome = stepped("json:thread-lock@4").run(spec, spec.permutations[1])
    pids = outcome.workers_used
    assert len(pids["A"]) == len(pids["B"]) == 1 and pids["A"] != pids["B"]
    assert outcome.verdict == "failed"


def test_a_lock_makes_a_step_wait_and_it_completes_after_the_step_that_frees_it(stepped):
    spec = load_spec(SPECS[0].parent / "two-orders-same-id.toml")
    outcome = stepped("json:file-lock@1").run(spec, spec.permutations[1])
    assert [(s.step, s.outcome, s.completed_after) for s in outcome.steps] == [
        ("A.read", "ran", None),
        ("B.read", "blocked", "A.write"),
        ("A.write", "ran", None),
        ("B.write", "ran", None),
    ]
    assert run.steps_text(outcome) == (
        "A.read B.read <waiting ...> A.write B.read <... completed> B.write"
    )


def test_two_sessions_of_two_steps_have_six_interleavings():
    sessions = [Session("A", [{"op": "create"}]), Session("B", [{"op": "create"}])]
    found = every_interleaving(sessions)
    assert len(found) == len({tuple(p) for p in found}) == 6
    for permutation in found:
        for name in "AB":
            assert [p for n, p in permutation if n == name] == ["read", "write"]


ONE = (
    '[[session]]\nname = "A"\nrequests = [{ op = "create", sku = "sku-1", qty = 1, token = "a" }]\n'
)
BAD_SPECS = [
    ("not TOML", "name = \n", 1, "not TOML"),
    ("no session", 'name = "x"\n', 0, "at least one [[session]]"),
    ("unknown session", 'permutations = [["A.read", "C.read"]]\n' + ONE, 1, "unknown session 'C'"),
    ("not a step", 'permutations = [["A-read"]]\n' + ONE, 1, "not SESSION.POINT"),
    ("a step twice", 'permutations = [["A.read", "A.read"]]\n' + ONE, 1, "a step twice"),
    ("unknown op", '[[session]]\nname = "A"\nrequests = [{ op = "buy" }]\n', 3, "needs op"),
    ("cancel of nothing", '[[session]]\nname = "A"\nrequests = [{ op = "cancel", token = "z" }]\n',
     3, "no create and no setup order makes"),
    ("unknown key", '[[session]]\nname = "A"\nfoo = 1\nrequests = []\n', 3, "unknown key 'foo'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "text", "line", "problem"), BAD_SPECS, ids=[c[0] for c in BAD_SPECS]
)
def test_a_bad_spec_exits_2_naming_the_line_and_the_problem(tmp_path, case, text, line, problem):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(StepSpecError) as found:
        load_spec(path)
    assert problem in str(found.value)
    assert str(found.value).startswith(f"{path}:{line}:" if line else f"{path}:")
    result = racelab_step(path, "--target", "json:naive")
    assert result.returncode == 2 and problem in result.stderr and "Traceback" not in result.stderr


def test_a_point_the_strategy_does_not_have_is_a_bad_spec(tmp_path):
    result = racelab_step(SPECS[0].parent / "optimistic-window.toml", "--target", "json:naive")
    assert result.returncode == 2
    assert "optimistic-window.toml:7: json:naive@1 has no pause point 'check'" in result.stderr


def test_the_command_prints_the_matrix_and_exits_1_when_a_permutation_failed(tmp_path):
    path = SPECS[0].parent / "cancel-twice.toml"
    result = racelab_step(path, "--target", "json:naive", "--target", "sqlite:naive",
                          "--json", str(tmp_path / "m.json"),
                          "--html", str(tmp_path / "out" / "m.html"))  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "permutation" in result.stdout and "stock_mismatch" in result.stdout
    held = racelab_step(path, "--target", "sqlite:transactional")
    assert held.returncode == 0 and "verdict: held" in held.stdout
    assert '"label": "stock_mismatch"' in (tmp_path / "m.json").read_text()
    page = (tmp_path / "out" / "m.html").read_text()
    assert page.count("<td class='cell failed'>stock_mismatch</td>") == 1
    assert page.count("<td class='cell held'>held</td>") == 3


def test_every_strategy_passes_its_declared_points_in_order(stepped):
    # One stepped create per strategy, every point named, in the declared order: each
    # step must run, none be skipped or blocked.
    for backend, strategies in STRATEGIES.items():
        for name, cls in strategies.items():
            points = list(cls.pause_points)
            steps = [("A", p) for p in points]
            spec = spec_of({"setup": {"skus": 1, "stock": 5}, "session": [
                {"name": "A", "requests": [{"op": "create", "sku": "sku-1", "qty": 1,
                                            "token": "a"}]}],
                "permutations": [[f"A.{p}" for p in points]]}, "inline")  # fmt: skip
            outcome = stepped(f"{backend}:{name}@1").run(spec, steps)
            assert [s.outcome for s in outcome.steps] == ["ran"] * len(points), (name, outcome)


def test_a_scheduler_with_nobody_to_step_finishes_at_once():
    scheduler = Scheduler({"A": []}, block_wait=0.1)
    scheduler.session_done("A")
    assert scheduler.run([], limit=1.0) == []
    scheduler.close()


def racelab_step(*args, stdin: str = "") -> subprocess.CompletedProcess:
    """Run racelab step as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "racelab", "step", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        input=stdin,
    )


def test_interactive_from_a_pipe_lets_the_keys_schedule_the_sessions():
    path = SPECS[0].parent / "last-item-oversold.toml"
    interleaved = racelab_step(path, "--target", "json:naive", "--interactive", stdin="abab\n")
    assert interleaved.returncode == 1, interleaved.stderr
    out = interleaved.stdout
    assert "  A: at read\n  B: at read\n  store: stock sku-1 1; orders none" in out
    assert "> A.read: ran" in out and "> B.write: ran" in out
    assert "B got: create b1 201 id=1" in out and "verdict: failed, lost 1, id_collision 1" in out
    serial = racelab_step(path, "--target", "json:naive", "--interactive", stdin="aaa\nbbb\nq\n")
    assert serial.returncode == 0, serial.stdout
    assert "B got: create b1 409" in serial.stdout and "verdict: held" in serial.stdout


def test_a_pin_that_finds_no_new_worker_says_so_and_closes_every_connection_it_held(
    monkeypatch,
):
    import gc
    import threading
    import warnings
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from racelab.step import client as step_client
    from racelab.step.client import Client, WorkerNotFound
    from servers.stepping import WORKER_HEADER

    monkeypatch.setattr(step_client, "PIN_LIMIT_S", 1.0)

    class OneWorker(BaseHTTPRequestHandler):
        """Every connection served by the same process: a pin can only give up."""

        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header(WORKER_HEADER, "4242")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), OneWorker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Client(f"http://127.0.0.1:{server.server_port}", "a")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            with pytest.raises(WorkerNotFound, match=r"but \[4242\] took a new connection in 1 s"):
                client.pin_to_a_new_worker({4242})
            gc.collect()
        client.close()
    finally:
        server.shutdown()
        server.server_close()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []

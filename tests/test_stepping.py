"""servers/stepping.py, the server's side of the pause protocol: pause points belong to the app
that asked for them, not the process; and a server that says it waits for a lock is shown
waiting at once, not after a block wait.

The notices' protocol tests speak to a real scheduler over its socket with the servers' own
notice client; the end-to-end ones step real servers whose locks send the notices
(PostgreSQL's row locks: found by the lock probe), with a block wait far longer than the
whole permutation may take when they work.
"""

import threading
import time
from pathlib import Path

import pytest

from racelab.compare.targets import parse_spec
from racelab.step.runner import stepped_server
from racelab.step.scheduler import Scheduler
from racelab.step.spec import load_spec
from servers import create_app, init_store
from servers.stepping import FREE_PROTOCOL, SESSION_HEADER, WAIT_PROTOCOL, ask

LONG_BLOCK_WAIT_S = 60.0  # a permutation that waited it out even once would take this long
SPEC = Path(__file__).resolve().parent.parent / "specs" / "last-item-oversold.toml"
HOLD_WAIT_S = 30.0  # generous: a held request must reach its pause point on a busy machine


@pytest.fixture
def scheduler():
    """racelab step's own scheduler, sessions A and B each to be held at its read point."""
    scheduler = Scheduler({"A": ["read"], "B": ["read"]}, block_wait=LONG_BLOCK_WAIT_S)
    yield scheduler
    scheduler.release_all()
    scheduler.close()


@pytest.fixture
def apps(tmp_path):
    """Make json:naive apps on stores of their own; close every store made."""
    made = []

    def make(name: str, **config):
        init_store("json", "naive", tmp_path / name, skus=1, stock=10)
        made.append(create_app({"BACKEND": "json", "STRATEGY": "naive", "TESTING": True,
                                "DATA_DIR": str(tmp_path / name), **config}))  # fmt: skip
        return made[-1]

    yield make
    for app in made:
        app.extensions["store"].close()


def create(app, token: str):
    """POST one order as session A; return the response."""
    body = {"sku": "sku-1", "qty": 1, "token": token}
    return app.test_client().post("/orders", json=body, headers={SESSION_HEADER: "A"})


def test_an_app_made_later_leaves_a_stepped_apps_pause_points_on(scheduler, apps):
    stepped = apps("stepped", STEP_ADDRESS=(scheduler.path, scheduler.secret))
    plain = apps("plain")  # made after: it once turned every app's pause points off
    assert create(plain, "t-plain").status_code == 201
    assert scheduler.lanes["A"].held is None  # the plain app never asks the scheduler
    answers: list = []
    request = threading.Thread(target=lambda: answers.append(create(stepped, "t-stepped")))
    request.start()
    with scheduler.changed:
        assert scheduler.changed.wait_for(lambda: scheduler.lanes["A"].held, HOLD_WAIT_S)
    assert answers == []  # held at read: nothing answered yet
    scheduler.release_all()
    request.join(HOLD_WAIT_S)
    assert [a.status_code for a in answers] == [201]


def test_an_app_made_earlier_is_never_stepped_by_one_made_after_it(scheduler, apps):
    plain = apps("plain")
    apps("stepped", STEP_ADDRESS=(scheduler.path, scheduler.secret))  # once, for every app
    answers: list = []
    request = threading.Thread(target=lambda: answers.append(create(plain, "t-plain")))
    request.start()
    request.join(HOLD_WAIT_S)
    assert [a.status_code for a in answers] == [201]
    assert scheduler.lanes["A"].held is None  # the plain app never asked the scheduler


def notice(scheduler: Scheduler, protocol: str, session: str) -> str:
    return ask((scheduler.path, scheduler.secret), session, "lock", protocol)


def test_a_wait_notice_marks_the_session_waiting_until_its_lock_is_freed(scheduler):
    assert not scheduler.wait_settled(0)
    assert notice(scheduler, WAIT_PROTOCOL, "A") == "go"
    assert notice(scheduler, WAIT_PROTOCOL, "B") == "go"
    assert scheduler.wait_settled(0)
    assert scheduler.where("A") == "waiting for its lock"
    assert notice(scheduler, FREE_PROTOCOL, "B") == "go"
    assert not scheduler.wait_settled(0)
    assert scheduler.where("A") == "running or blocked"


def test_a_session_that_arrives_at_a_point_is_no_longer_waiting(scheduler):
    notice(scheduler, WAIT_PROTOCOL, "A")
    real = (scheduler.path, scheduler.secret)
    threading.Thread(target=ask, args=(real, "A", "read"), daemon=True).start()
    lane = scheduler.lanes["A"]
    with scheduler.changed:
        assert scheduler.changed.wait_for(lambda: lane.held is not None, 10)
    assert lane.waiting is None
    assert scheduler.where("A") == "at read"


def test_a_notice_with_a_wrong_secret_is_refused(scheduler):
    reply = ask((scheduler.path, "x" * 32), "A", "lock", WAIT_PROTOCOL)
    assert reply == "no wrong secret"
    assert scheduler.lanes["A"].waiting is None


@pytest.mark.parametrize(
    "target",
    ["json:thread-lock@1", "json:file-lock@4", "sqlite:transactional@4", "postgres:for-update@4"],
)
def test_a_step_into_a_held_lock_is_known_blocked_without_the_block_wait(target):
    spec = load_spec(SPEC)
    interleaved = next(p for p in spec.permutations if p[1][0] != p[0][0])
    with stepped_server(parse_spec(target), LONG_BLOCK_WAIT_S) as server:
        started = time.monotonic()
        outcome = server.run(spec, interleaved)
        took = time.monotonic() - started
    assert outcome.verdict == "held"
    second = outcome.steps[1]  # B.read: blocked before its point, or released into the wait
    assert (second.step, second.outcome) in {("B.read", "blocked"), ("B.read", "waiting")}
    assert took < LONG_BLOCK_WAIT_S / 2, f"the permutation waited out a block wait ({took:.1f} s)"

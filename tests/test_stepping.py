"""servers/stepping.py: pause points belong to the app that asked for them, not the process."""

import threading

import pytest

from racelab.step.scheduler import Scheduler
from servers import create_app, init_store
from servers.stepping import SESSION_HEADER

HOLD_WAIT_S = 30.0  # generous: a held request must reach its pause point on a busy machine


@pytest.fixture
def scheduler():
    """racelab step's own scheduler, holding session A at its read point."""
    scheduler = Scheduler({"A": ["read"]})
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

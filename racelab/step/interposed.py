"""Drive a permutation on a server stepped at its own I/O, its sessions started one at a time.

An SQL statement or a file operation says nothing of which request made it, so it is
attributed to the one session running (racelab/interpose/pgattribution.py). For that the
sessions start one at a time: each session's requests are sent only once the session
before has reached its first point or ended (or START_WAIT_S passed: then what the two do
is reported unattributed, never guessed). After that the scheduler releases one at a time.
"""

import threading
import time

from racelab.interpose.pgattribution import Attribution
from racelab.interpose.stepped import Interposition
from racelab.step.client import Client
from racelab.step.runner import (
    PERMUTATION_LIMIT_S,
    Answer,
    Outcome,
    checked,
    send_setup,
    session_loop,
)
from racelab.step.scheduler import Scheduler
from racelab.step.spec import Permutation, Spec

START_WAIT_S = 30.0  # generous: a slow machine's first request may take long to its point


class _Ending:
    """What session_loop tells the scheduler, said to the attribution first: a session
    whose requests have all been answered runs no more."""

    def __init__(self, scheduler: Scheduler, attribution: Attribution) -> None:
        self.scheduler, self.attribution = scheduler, attribution

    def session_done(self, name: str) -> None:
        """Note that every request of a session has its answer."""
        self.attribution.stopped(name)
        self.scheduler.session_done(name)


def drive_one_at_a_time(spec: Spec, permutation: Permutation, scheduler: Scheduler, url: str,
                        io: Interposition) -> Outcome:  # fmt: skip
    """Run one permutation (the scheduler has its lanes) and check what the server stored;
    the outcome's events are the SQL and file operations its sessions made."""
    clock, mark = time.perf_counter(), io.mark()
    ids: dict[str, int] = {}
    records = send_setup(url, spec, ids)
    clients = {s.name: Client(url, s.name) for s in spec.sessions}
    answers: list[Answer] = []
    ending = _Ending(scheduler, io.attribution)
    try:
        for vu, session in enumerate(spec.sessions):
            io.attribution.running(session.name)
            args = (clients[session.name], session, vu, ids, answers, records, clock, ending)
            threading.Thread(target=session_loop, args=args, daemon=True).start()
            _wait_first_point(scheduler, session.name)
        steps = scheduler.run(permutation, PERMUTATION_LIMIT_S)
        finished = scheduler.wait_done(PERMUTATION_LIMIT_S)
    finally:
        for client in clients.values():
            client.close()
    position = {s.name: i for i, s in enumerate(spec.sessions)}
    answers.sort(key=lambda answer: position[answer.session])
    report = checked(spec, url, None, records)
    outcome = Outcome(steps, answers, report.verdict.value, report.anomalies, {}, finished)
    outcome.events = io.events_since(mark)
    return outcome


def _wait_first_point(scheduler: Scheduler, name: str) -> None:
    """Wait until a session is held at its first point or done (bounded)."""
    lane = scheduler.lanes[name]
    with scheduler.changed:
        scheduler.changed.wait_for(lambda: lane.held is not None or lane.done, START_WAIT_S)

"""Run a spec's permutations against a real `racelab serve --step`, each on a fresh store.

One server serves many permutations: before each, its store is emptied and reseeded in
place to the spec's setup (Store.reseed), the server's pause points on throughout. Then
the setup orders are stored, each session's requests sent from its own thread,
the schedule released step by step, and then the checker on the store and the history of
exactly those requests.
"""

import contextlib
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from checker import check
from checker.stores import resolve_store_path
from history import op_record, parse_lines, run_record
from loadtests.outcome import classify_status
from racelab.compare.external import ExternalTarget
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from racelab.process_exit import finishing
from racelab.step.client import REQUEST_LIMIT_S, Client, lock_probe
from racelab.step.lanes import StepLog
from racelab.step.scheduler import BLOCK_WAIT_S, Scheduler
from racelab.step.spec import WRITES, Permutation, Session, Spec
from servers.registry import store_class
from shapes.reports import CheckReport

if TYPE_CHECKING:
    from racelab.interpose.stepped import ShownEvent

PERMUTATION_LIMIT_S = REQUEST_LIMIT_S  # a permutation's overall bound, whatever its steps do
Target = TargetSpec | ExternalTarget
Run = tuple[Spec, Permutation]  # one permutation of a spec, to run once


@dataclass
class Answer:
    """What one request of a session got."""

    session: str
    op: str
    token: str | None
    status: int | None
    body: dict | None
    pid: int | None
    order_id: int | None = None  # the id a create was given, or a cancel or get named

    def text(self) -> str:
        """Return e.g. 'create a1 201 id=1' or 'create b1 409'."""
        tail = f" id={self.body['id']}" if isinstance(self.body, dict) and "id" in self.body else ""
        return f"{self.op} {self.token or ''} {self.status or 'no answer'}{tail}".replace("  ", " ")


@dataclass
class Outcome:
    """One run of one permutation."""

    steps: list[StepLog]
    answers: list[Answer]
    verdict: str
    anomalies: dict[str, int]  # anomaly class -> how many the checker found
    workers_used: dict[str, set[int]] = field(default_factory=dict)  # session -> pids reached
    finished: bool = True  # every session got its answers within the permutation's bound
    # an interposed server's SQL and file operations, in order: {"step", "text"} each
    # ("unattributed": the sessions that could have made it, with step "?.POINT")
    events: list["ShownEvent"] = field(default_factory=list)

    def key(self) -> tuple[str, tuple[str, ...]]:
        """Return what must be the same every time the permutation runs."""
        return self.verdict, tuple(sorted(k for k, v in self.anomalies.items() if v))


@dataclass
class StepServer:
    """A `racelab serve --step` and its scheduler, kept for many permutations: the store is
    reseeded in place before each, so a permutation costs its requests, not a server start."""

    target: TargetSpec
    scheduler: Scheduler
    url: str
    data_dir: Path
    spoiled: bool = False  # a session never finished: the server may still be holding it

    def prepare(self, spec: Spec, lanes: Mapping[str, list[str]]) -> None:
        """Reseed the store to spec's setup and give the scheduler the sessions' lanes."""
        store = store_class(self.target.backend, self.target.strategy)
        store.reseed(self.data_dir, spec.skus, spec.stock, spec.shifts, spec.doctors)
        self.scheduler.begin(lanes)

    def run(self, spec: Spec, permutation: Permutation) -> Outcome:
        """Run one permutation on a freshly reseeded store and check what it left."""
        lanes = {s.name: [p for n, p in permutation if n == s.name] for s in spec.sessions}
        self.prepare(spec, lanes)
        outcome = _drive(spec, self.target, permutation, self.scheduler, self.url, self.data_dir)
        self.spoiled = self.spoiled or not outcome.finished
        return outcome


@contextlib.contextmanager
def stepped_server(target: TargetSpec, block_wait: float = BLOCK_WAIT_S) -> Iterator[StepServer]:
    """Start a scheduler and `racelab serve --step` on a fresh store; yield a StepServer;
    stop both and remove the store, however the permutations end (a signal too)."""
    work = Path(tempfile.mkdtemp(prefix="racelab-step-"))
    scheduler, process, stack = None, None, contextlib.ExitStack()
    try:
        data_dir = work / "data"
        data_dir.mkdir()
        scheduler = Scheduler({}, block_wait)
        settings = Settings(skus=1, stock=1, threads=8)
        step_flag = ["--step", scheduler.path, "--step-secret", scheduler.secret]
        process, url = start_server(target, data_dir, settings, work / "server.log", 0, True,
                                    step_flag)  # fmt: skip
        probe = lock_probe(data_dir)  # PostgreSQL targets: their row locks send no notice
        if probe is not None:
            stack.callback(probe.close)
            scheduler.watch_locks(probe)
        yield StepServer(target, scheduler, url, data_dir)
    finally:
        with finishing():
            stack.close()
            if scheduler is not None:
                scheduler.close()  # first: a request held at a pause point lets the server stop
            if process is not None:
                stop_server(process)
            shutil.rmtree(work, ignore_errors=True)


def run_permutation(
    spec: Spec, target: TargetSpec, permutation: Permutation, block_wait: float = BLOCK_WAIT_S
) -> Outcome:
    """Run one permutation on a server of its own and check what it left."""
    with stepped_server(target, block_wait) as server:
        return server.run(spec, permutation)


def run_many(
    target: TargetSpec, runs: list[Run], block_wait: float = BLOCK_WAIT_S
) -> list[Outcome]:
    """Run (spec, permutation) pairs in order on one server, started again only after a
    permutation left a session unfinished."""
    outcomes: list[Outcome] = []
    while len(outcomes) < len(runs):
        with stepped_server(target, block_wait) as server:
            for spec, permutation in runs[len(outcomes) :]:
                outcomes.append(server.run(spec, permutation))
                if server.spoiled:
                    break
    return outcomes


def send_setup(url: str, spec: Spec, ids: dict[str, int]) -> list[dict]:
    """Store the spec's setup orders (never paused); return their history records."""
    setup = Client(url, "")  # no session header: setup requests never pause
    try:
        return [_record(_send(setup, order, ids), order, 0.0, 0.0, -1) for order in spec.orders]
    finally:
        setup.close()


def _drive(spec: Spec, target: Target, permutation: Permutation, scheduler: Scheduler, url: str,
           data_dir: Path | None) -> Outcome:  # fmt: skip
    """Run one permutation on a server whose scheduler has its lanes; check what it left."""
    clock = time.perf_counter()
    ids: dict[str, int] = {}
    records = send_setup(url, spec, ids)
    clients = {s.name: Client(url, s.name) for s in spec.sessions}
    try:
        return _run_sessions(spec, target, permutation, scheduler, url, data_dir, clients,
                             records, ids, clock)  # fmt: skip
    finally:
        for client in clients.values():
            client.close()


def _run_sessions(spec: Spec, target: Target, permutation: Permutation, scheduler: Scheduler,
                  url: str, data_dir: Path | None, clients: dict[str, Client],
                  records: list[dict], ids: dict[str, int], clock: float) -> Outcome:  # fmt: skip
    """Send every session's requests from its own thread while the schedule runs."""
    workers_used = _pin(clients, target.workers) if target.workers > 1 else {}
    answers: list[Answer] = []
    threads = [
        threading.Thread(
            target=session_loop,
            args=(clients[s.name], s, i, ids, answers, records, clock, scheduler),
            daemon=True,
        )
        for i, s in enumerate(spec.sessions)
    ]
    for thread in threads:
        thread.start()
    steps = scheduler.run(permutation, PERMUTATION_LIMIT_S)
    finished = scheduler.wait_done(PERMUTATION_LIMIT_S)
    for lane_name, lane in scheduler.lanes.items():
        workers_used.setdefault(lane_name, set()).update(lane.pids)
    # The threads append as their answers come, in whichever order the machine runs them;
    # the outcome lists them in the spec's order (each session's own stay in request order).
    position = {s.name: i for i, s in enumerate(spec.sessions)}
    answers.sort(key=lambda answer: position[answer.session])
    report = checked(spec, url, data_dir, records)
    return Outcome(steps, answers, report.verdict.value, report.anomalies, workers_used, finished)


def checked(spec: Spec, url: str, data_dir: Path | None, records: list[dict]) -> CheckReport:
    """Check the store (read through the API when data_dir is None) against the history of
    exactly these requests."""
    lines = [json.dumps(run_record(url, "step", 0, {}, _items(spec)))]
    lines += [json.dumps(r) for r in records]
    store = url if data_dir is None else resolve_store_path(data_dir)
    return check(store, parse_lines(lines), min_overlaps=0)


def _pin(clients: dict[str, Client], workers: int) -> dict[str, set[int]]:
    """Give each session's connection its own worker process while there are processes
    enough (sessions beyond them share); return session -> {pid}."""
    taken: set[int] = set()
    used: dict[str, set[int]] = {}
    for name, client in list(clients.items())[:workers]:
        pid = client.pin_to_a_new_worker(taken)
        used[name] = set() if pid is None else {pid}  # None: no worker said who it is
        taken |= used[name]
    return used


def _items(spec: Spec) -> dict[str, int]:
    return {f"sku-{n}": spec.stock for n in range(1, spec.skus + 1)}


class SessionsDone(Protocol):
    """Whom session_loop tells that a session has all its answers: a Scheduler, or one
    that tells an attribution first."""

    def session_done(self, name: str) -> None:
        """Note that every request of a session has its answer."""


def session_loop(client: Client, session: Session, vu: int, ids: dict[str, int],
                 answers: list[Answer], records: list[dict], clock: float,
                 scheduler: SessionsDone) -> None:  # fmt: skip
    """Send a session's requests one after another, noting each answer and each write's
    history record; tell the scheduler when the last is answered."""
    try:
        for request in session.requests:
            t0 = time.perf_counter() - clock
            answer = _send(client, request, ids, session.name)
            t1 = time.perf_counter() - clock
            answers.append(answer)
            if request["op"] in WRITES:
                records.append(_record(answer, request, t0, t1, vu))
    finally:
        scheduler.session_done(session.name)


def _send(client: Client, request: dict, ids: dict[str, int], session: str = "") -> Answer:
    """Send one spec request through the contract; remember ids by token."""
    op, token = request["op"], request.get("token")
    if op == "create":
        body = {"sku": request["sku"], "qty": request["qty"], "token": token}
        status, answer, pid = client.send("POST", "/orders", body)
        order_id = answer.get("id") if status in (200, 201) and isinstance(answer, dict) else None
        if order_id is not None:
            ids.setdefault(request["token"], order_id)  # a create always names its token
    elif op == "leave":
        order_id = None
        body = {"doctor": request["doctor"], "token": token}
        status, answer, pid = client.send("POST", f"/shifts/{request['shift']}/leave", body)
    elif op in ("cancel", "get"):
        order_id = ids.get(request["token"], 0)
        status, answer, pid = client.send("DELETE" if op == "cancel" else "GET",
                                          f"/orders/{order_id}")  # fmt: skip
    else:
        order_id = None
        status, answer, pid = client.send("GET", {"list": "/orders"}.get(op, f"/{op}"))
    return Answer(session, op, token, status, answer, pid, order_id)


def _record(answer: Answer, request: dict, t0: float, t1: float, vu: int) -> dict:
    status = answer.status
    type_ = "info" if status is None else classify_status(status)
    leave = {"shift": request["shift"], "doctor": request["doctor"]} if "shift" in request else {}
    return leave | op_record(
        request["op"], vu, request.get("token"), request.get("sku"), request.get("qty"),
        answer.order_id, status, type_, t0, max(t1, t0),
        None if type_ == "ok" else f"http {status}" if status else "no answer",
    )  # fmt: skip

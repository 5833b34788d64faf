"""Run a spec's permutations against a real `racelab serve --step`, each on a fresh store.

For each permutation: a fresh store seeded by the spec, the server started with its pause
points on, the setup orders stored, each session's requests sent from its own thread,
the schedule released step by step, and then the checker on the store and the history of
exactly those requests.
"""

import contextlib
import http.client
import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from checker import check
from checker.stores import resolve_store_path
from history import op_record, parse_lines, run_record
from loadtests.outcome import classify_status
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from racelab.step.scheduler import BLOCK_WAIT_S, Scheduler, StepLog
from racelab.step.spec import Spec
from servers.stepping import SESSION_HEADER, WORKER_HEADER

PERMUTATION_LIMIT_S = 60.0  # a permutation's overall bound, whatever its steps do
DISTINCT_WORKER_TRIES = 40


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
    anomalies: dict
    workers_used: dict = field(default_factory=dict)  # session -> server pids it reached

    def key(self) -> tuple:
        """Return what must be the same every time the permutation runs."""
        return self.verdict, tuple(sorted(k for k, v in self.anomalies.items() if v))


class Client:
    """One session's HTTP connection, kept open so a worker process keeps serving it."""

    def __init__(self, url: str, session: str):
        parts = urlsplit(url)
        self.host, self.port, self.session = parts.hostname, parts.port, session
        self.conn = self._open()

    def _open(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=PERMUTATION_LIMIT_S)

    def send(self, method: str, path: str, body=None) -> tuple[int | None, dict | None, int | None]:
        """Send one request; return (status, JSON body or None, the pid that served it)."""
        headers = {"Content-Type": "application/json"}
        if self.session:  # setup requests name no session: they never pause
            headers[SESSION_HEADER] = self.session
        try:
            self.conn.request(method, path, json.dumps(body) if body else None, headers)
            response = self.conn.getresponse()
            raw = response.read()
        except OSError:
            self.conn.close()
            return None, None, None
        pid = response.getheader(WORKER_HEADER)
        return response.status, _json(raw), int(pid) if pid else None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def pin_to_a_new_worker(self, taken: set) -> int | None:
        """Reconnect until this connection is served by a process no other session uses."""
        spare = []
        try:
            for _ in range(DISTINCT_WORKER_TRIES):
                _, _, pid = self.send("GET", "/health")
                if pid is None or pid not in taken:
                    return pid
                spare.append(self.conn)  # held open, so the next connect lands elsewhere
                self.conn = self._open()
            return None
        finally:
            for conn in spare:  # closed however it ends: found a worker, or gave up
                conn.close()


def _json(raw: bytes):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


@contextlib.contextmanager
def stepped_server(spec: Spec, target: TargetSpec, lanes: dict, block_wait: float):
    """Start a scheduler and `racelab serve --step` on a fresh store; yield (scheduler, URL,
    data dir); stop both."""
    with tempfile.TemporaryDirectory(prefix="racelab-step-") as work:
        data_dir = Path(work) / "data"
        data_dir.mkdir()
        scheduler = Scheduler(lanes, block_wait)
        settings = Settings(skus=spec.skus, stock=spec.stock, threads=8)
        step_flag = ["--step", "{}:{}".format(*scheduler.address)]
        process, url = start_server(target, data_dir, settings, Path(work) / "server.log", 0,
                                    True, step_flag)  # fmt: skip
        try:
            yield scheduler, url, data_dir
        finally:
            scheduler.close()
            stop_server(process)


def run_permutation(
    spec: Spec, target: TargetSpec, permutation, block_wait: float = BLOCK_WAIT_S
) -> Outcome:
    """Run one permutation on a fresh store and check what it left."""
    lanes = {s.name: [p for n, p in permutation if n == s.name] for s in spec.sessions}
    with stepped_server(spec, target, lanes, block_wait) as (scheduler, url, data_dir):
        return _drive(spec, target, permutation, scheduler, url, data_dir)


def _drive(spec, target, permutation, scheduler, url, data_dir) -> Outcome:
    clock, records, ids = time.perf_counter(), [], {}
    setup = Client(url, "")  # no session header: setup requests never pause
    for order in spec.orders:
        records.append(_record(_send(setup, order, ids), order, 0.0, 0.0, -1))
    setup.close()
    clients = {s.name: Client(url, s.name) for s in spec.sessions}
    try:
        return _run_sessions(spec, target, permutation, scheduler, url, data_dir, clients,
                             records, ids, clock)  # fmt: skip
    finally:
        for client in clients.values():
            client.close()


def _run_sessions(spec, target, permutation, scheduler, url, data_dir, clients, records, ids,
                  clock) -> Outcome:  # fmt: skip
    """Send every session's requests from its own thread while the schedule runs."""
    workers_used = _pin(clients) if target.workers > 1 else {}
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
    scheduler.wait_done(PERMUTATION_LIMIT_S)
    for lane_name, lane in scheduler.lanes.items():
        workers_used.setdefault(lane_name, set()).update(lane.pids)
    # The threads append as their answers come, in whichever order the machine runs them;
    # the outcome lists them in the spec's order (each session's own stay in request order).
    position = {s.name: i for i, s in enumerate(spec.sessions)}
    answers.sort(key=lambda answer: position[answer.session])
    report = checked(spec, url, data_dir, records)
    return Outcome(steps, answers, report["verdict"], report["anomalies"], workers_used)


def checked(spec: Spec, url: str, data_dir: Path, records: list) -> dict:
    """Check the store against the history of exactly these requests."""
    lines = [json.dumps(run_record(url, "step", 0, {}, _items(spec)))]
    lines += [json.dumps(r) for r in records]
    return check(resolve_store_path(data_dir), parse_lines(lines), min_overlaps=0)


def _pin(clients: dict) -> dict:
    """Give each session's connection its own worker process; return session -> {pid}."""
    taken: set = set()
    used = {}
    for name, client in clients.items():
        pid = client.pin_to_a_new_worker(taken)
        taken.add(pid)
        used[name] = {pid}
    return used


def _items(spec: Spec) -> dict:
    return {f"sku-{n}": spec.stock for n in range(1, spec.skus + 1)}


def session_loop(client, session, vu, ids, answers, records, clock, scheduler) -> None:
    try:
        for request in session.requests:
            t0 = time.perf_counter() - clock
            answer = _send(client, request, ids, session.name)
            t1 = time.perf_counter() - clock
            answers.append(answer)
            if request["op"] in ("create", "cancel"):
                records.append(_record(answer, request, t0, t1, vu))
    finally:
        scheduler.session_done(session.name)


def _send(client: Client, request: dict, ids: dict, session: str = "") -> Answer:
    """Send one spec request through the contract; remember ids by token."""
    op, token = request["op"], request.get("token")
    if op == "create":
        body = {"sku": request["sku"], "qty": request["qty"], "token": token}
        status, answer, pid = client.send("POST", "/orders", body)
        order_id = answer.get("id") if status in (200, 201) and isinstance(answer, dict) else None
        if order_id is not None:
            ids.setdefault(token, order_id)
    elif op in ("cancel", "get"):
        order_id = ids.get(token, 0)
        status, answer, pid = client.send("DELETE" if op == "cancel" else "GET",
                                          f"/orders/{order_id}")  # fmt: skip
    else:
        order_id = None
        status, answer, pid = client.send("GET", "/orders" if op == "list" else "/items")
    return Answer(session, op, token, status, answer, pid, order_id)


def _record(answer: Answer, request: dict, t0: float, t1: float, vu: int) -> dict:
    status = answer.status
    type_ = "info" if status is None else classify_status(status)
    return op_record(
        request["op"], vu, request.get("token"), request.get("sku"), request.get("qty"),
        answer.order_id, status, type_, t0, max(t1, t0),
        None if type_ == "ok" else f"http {status}" if status else "no answer",
    )  # fmt: skip

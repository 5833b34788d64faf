"""Slow clients and the HTTP layer's own answers, on real `racelab serve` processes.

Each server gets its half-sent requests when the module starts, so the wait for the
arrival bound runs while the other tests do.

Their gunicorn runs racelab/gunicorn_worker.py, whose PromptArbiter overrides
Arbiter.spawn_workers, which gunicorn does not document; pyproject.toml bounds gunicorn
below its next major version, and the last two tests hold the override to gunicorn's own
loop, so an upgrade that changes it fails here, not in a compare.
"""

import contextlib
import inspect
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from gunicorn.arbiter import Arbiter

from racelab.arrival import ARRIVAL_S, MAX_CONNECTIONS
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from racelab.gunicorn_worker import PromptArbiter

HEAD = b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
HALF_SENT = [
    HEAD,  # headers without their end
    HEAD + b"Content-Length: 50\r\n\r\n" + b'{"sku": "s',  # a body shorter than its length
    b"GET /health HTTP/1.1\r\nHost: x\r\n",
] * 8  # enough that every worker gets more than its two threads, however they are spread
HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
PROMPT_S = 2.0  # well under ARRIVAL_S: an answer that waited for the bound is late
CLOSE_BY_S = ARRIVAL_S + 2.5  # the bound, and the poller's one-second sweep


SERVERS = {"one-process": 1, "gunicorn-2x2": 2, "capped": 1}
CAPPED = MAX_CONNECTIONS + 20  # more half-sent requests than one process serves at once


@dataclass
class Served:
    """A running server, the connections left half-sent on it, and when they were sent."""

    port: int
    pid: int
    stuck: list
    t0: float


def start(tmp_path_factory, workers: int):
    """Start `racelab serve json --strategy file-lock` with 2 threads a worker."""
    spec = TargetSpec("json", "file-lock", workers)
    tmp = tmp_path_factory.mktemp(f"slow-{workers}w")
    process, url = start_server(spec, tmp / "data", Settings(threads=2), tmp / "server.log")
    return process, int(url.rsplit(":", 1)[1])


def half_send(port: int, data: bytes) -> socket.socket:
    """Open a connection, send part of a request, and leave it there."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=CLOSE_BY_S + 5)
    conn.sendall(data)
    return conn


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Three served targets, half-sent requests on each from the start: name -> Served."""
    with contextlib.ExitStack() as stack:
        started = {}
        for name, workers in SERVERS.items():
            process, port = start(tmp_path_factory, workers)
            stack.callback(stop_server, process)
            started[name] = Served(port, process.pid, [], 0.0)
        t0 = time.monotonic()
        for one in started.values():
            one.t0 = t0
            one.stuck = [stack.enter_context(half_send(one.port, data)) for data in HALF_SENT]
        capped = started["capped"]
        capped.stuck += [stack.enter_context(half_send(capped.port, HEAD)) for _ in range(CAPPED)]
        yield started


@pytest.fixture(params=["one-process", "gunicorn-2x2"])
def server(request, servers):
    """The one-process server, then gunicorn's two workers of two threads."""
    return servers[request.param]


def exchange(port: int, data: bytes, timeout: float = PROMPT_S) -> tuple[int, dict, bytes]:
    """Send data on a new connection; return the answer's status, headers and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        answer = read_to_end(conn)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def read_to_end(conn: socket.socket) -> bytes:
    """Read until the server closes the connection (or the socket's timeout passes)."""
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_half_sent_requests_do_not_stop_health(server):
    for _ in range(4):  # each may go to either worker: every one must answer
        status, _, body = exchange(server.port, HEALTH)
        assert status == 200 and json.loads(body)["status"] == "ok"


MALFORMED = {
    "malformed chunk": (
        HEAD + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n",
        400,
        "invalid",
    ),
    "malformed chunk, body unfinished": (
        HEAD + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n",
        400,
        "invalid",
    ),
    "long url": (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
    "long header": (HEAD + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431, "headers_too_large"),
    "many headers": (
        HEAD + b"".join(b"X-%d: a\r\n" % i for i in range(200)) + b"\r\n",
        431,
        "headers_too_large",
    ),
    "large body": (HEAD + b"Content-Length: 100000\r\n\r\n", 413, "too_large"),
    "garbage": (b"\x00\x01 not http\r\n\r\n", 400, "invalid"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_the_http_layer_answers_in_the_contracts_json(server, case):
    data, status, code = MALFORMED[case]
    got, headers, body = exchange(server.port, data)  # the server closes: nothing waits for a drain
    assert (got, headers["content-type"]) == (status, "application/json")
    error = json.loads(body)
    assert error["error"] == code and error["message"].endswith(".")


def test_half_sent_connections_close_after_the_arrival_bound(server):
    for conn in server.stuck:
        conn.settimeout(max(server.t0 + CLOSE_BY_S - time.monotonic(), 0.01))
        answer = read_to_end(conn)  # a TimeoutError here: the server kept it open
        assert answer.startswith(b"HTTP/1.1 408 ")  # a request begun, never finished
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"] == "timeout"
    assert time.monotonic() - server.t0 >= ARRIVAL_S - 0.5  # not closed before its time


def test_one_process_serves_a_bounded_number_of_connections(servers):
    capped = servers["capped"]
    status, _, _ = exchange(capped.port, HEALTH, CLOSE_BY_S)
    threads = len(list(Path(f"/proc/{capped.pid}/task").iterdir()))
    # Every connection before /health's was accepted by the time it was answered: with a
    # thread each, as many threads; bounded, the half-sent ones wait their turn.
    assert status == 200 and threads <= MAX_CONNECTIONS + 5


def test_gunicorn_still_spawns_workers_in_the_loop_the_override_replaces():
    source = inspect.getsource(Arbiter.spawn_workers)
    assert "for _ in range(self.num_workers - len(self.WORKERS)):" in source
    assert "self.spawn_worker()" in source
    assert "time.sleep(0.1 * random.random())" in source  # the stagger PromptArbiter drops


def test_the_prompt_arbiter_spawns_every_missing_worker_and_no_more():
    arbiter = object.__new__(PromptArbiter)  # no app, no config: only the spawn loop runs
    arbiter._num_workers = 4  # what gunicorn's num_workers property reads
    arbiter.WORKERS = {1001: "already up"}
    spawned = []
    arbiter.spawn_worker = lambda: spawned.append(len(spawned) + 1)  # gunicorn's, not ours
    arbiter.spawn_workers()
    assert spawned == [1, 2, 3]
    assert arbiter.num_workers == 4

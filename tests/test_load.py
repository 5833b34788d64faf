"""racelab load against a real in-process target: counts, completeness, seeds, bounds."""

import collections
import itertools
import json
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime

import msgspec
import pytest

from history import read_history
from loadtests.client import CLIENTS, open_client
from loadtests.config import EVENT_LOOPS, LoadConfig
from loadtests.run import execute
from loadtests.runner import EARLY_S
from tests.live import RawServer, RecordingHistory, hammer, in_process

MIX = {"create": 60, "cancel": 15, "get": 10, "list": 10, "items": 5}


@pytest.mark.parametrize(("client", "loop"), list(itertools.product(CLIENTS, EVENT_LOOPS)))
def test_every_request_has_one_record_and_the_counts_agree(tmp_path, client, loop):
    with in_process(tmp_path / "store") as url:
        # Bounded by requests, not by how many a busy machine manages in a second or two.
        summary = hammer(url, tmp_path / "h.jsonl", seconds=20, vus=8, mix=MIX, client=client,
                         loop=loop, max_requests=300)  # fmt: skip
    history = read_history(tmp_path / "h.jsonl")
    assert history.run["target"] == url and history.run["seed"] == 1
    assert history.run["items"] == {"sku-1": 100_000, "sku-2": 100_000, "sku-3": 100_000}
    assert len(history.ops) == summary.requests > 100
    by_op = collections.Counter(r["op"] for r in history.ops)
    assert {op: s.requests for op, s in summary.by_op.items()} == dict(by_op)
    assert set(by_op) == {"create", "cancel", "get", "list", "items"}
    by_status = collections.Counter(str(r["status"]) for r in history.ops)
    assert summary.by_status == dict(by_status)
    assert all(r["t0"] <= r["t1"] for r in history.ops)
    assert all(r["type"] == "ok" for r in history.ops)


def test_a_cancel_records_the_token_of_the_order_it_cancelled(tmp_path):
    with in_process(tmp_path / "store") as url:
        hammer(url, tmp_path / "h.jsonl", seconds=1.0, vus=4, mix={"create": 1, "cancel": 1})
    ops = read_history(tmp_path / "h.jsonl").ops
    created = {r["order_id"]: r for r in ops if r["op"] == "create"}
    cancels = [r for r in ops if r["op"] == "cancel"]
    assert cancels
    for cancel in cancels:
        origin = created[cancel["order_id"]]
        assert (cancel["token"], cancel["sku"], cancel["qty"], cancel["vu"]) == (
            origin["token"],
            origin["sku"],
            origin["qty"],
            origin["vu"],
        )


def per_user_plan(path):
    """Return each VU's sequence of (op, token, sku, qty)."""
    plans = collections.defaultdict(list)
    for r in read_history(path).ops:
        plans[r["vu"]].append((r["op"], r["token"], r["sku"], r["qty"]))
    return plans


def test_the_same_seed_replays_each_users_operations(tmp_path):
    runs = []
    for n, seed in enumerate((5, 5, 6)):
        with in_process(tmp_path / f"store{n}") as url:
            hammer(url, tmp_path / f"h{n}.jsonl", seconds=1.0, vus=4, seed=seed, mix=MIX)
        runs.append(per_user_plan(tmp_path / f"h{n}.jsonl"))
    first, again, other = runs
    for vu in first:
        shorter = min(len(first[vu]), len(again[vu]))
        assert shorter > 10
        assert first[vu][:shorter] == again[vu][:shorter]
    assert first[0][:10] != other[0][:10]


def test_the_request_bound_stops_the_run(tmp_path):
    with in_process(tmp_path / "store") as url:
        summary = hammer(url, tmp_path / "h.jsonl", seconds=30, vus=5, max_requests=120)
    assert summary.requests == 120
    assert summary.duration_s < 10


def test_stages_ramp_users_up_and_down(tmp_path):
    with in_process(tmp_path / "store") as url:
        config = LoadConfig(url=url, duration=2.0, vus=6, stages=[(1.0, 6), (1.0, 0)], seed=3)
        summary, run = execute(config, tmp_path / "h.jsonl")
    vus = [row["vus"] for row in run.stats.timeline.rows]
    assert max(vus) == 6 and summary.requests > 20
    assert len({r["vu"] for r in read_history(tmp_path / "h.jsonl").ops}) == 6


def test_open_model_keeps_its_rate_and_counts_from_the_intended_start(tmp_path):
    with in_process(tmp_path / "store") as url:
        # A slot for every arrival: however slow this machine answers, none is dropped.
        config = LoadConfig(url=url, duration=2.0, vus=200, rate=100.0, seed=4)
        summary, _ = execute(config, tmp_path / "h.jsonl")
    ops = read_history(tmp_path / "h.jsonl").ops
    assert summary.requests == len(ops) == 200 and summary.dropped == 0
    starts = sorted(r["t0"] for r in ops)
    # Arrival i is due at i/rate. Late (a slow machine) it is still stamped then; a timer may
    # fire up to EARLY_S before it (uvloop's are whole milliseconds), and then it is stamped
    # when it was really sent: never after the request went out. (1e-6: times are rounded to µs.)
    for i, t0 in enumerate(starts):
        assert i / 100 - EARLY_S - 1e-6 <= t0 <= i / 100, (i, t0)


class Silent(RawServer):
    """Accepts and reads but never answers: every request times out."""

    def serve(self, conn):
        while conn.recv(65536):
            pass


@pytest.fixture
def silent_server():
    """The URL of a Silent server, closed after the test."""
    server = Silent()
    yield server.url
    server.close()


def test_timeouts_are_info_and_retries_resend_the_same_token(tmp_path, silent_server):
    from loadtests.runner import LoadRun

    config = LoadConfig(
        url=silent_server, duration=1.0, vus=2, timeout=0.2, retries=2, mix={"create": 1}, seed=9
    )
    # The silent server cannot answer GET /items: the stock is given instead.
    run = LoadRun(config, RecordingHistory(), items={"sku-1": 10})
    import asyncio

    asyncio.run(run.run())
    run_line, *records = run.history.records
    assert run_line["op"] == "run" and run_line["items"] == {"sku-1": 10}
    assert records and all(r["type"] == "info" and r["status"] is None for r in records)
    assert all(r["error"] == "timeout" for r in records)
    by_token = collections.defaultdict(list)
    for r in records:
        by_token[r["token"]].append(r["attempt"])
    assert [0, 1, 2] in by_token.values()


def test_summary_and_timeline_files(tmp_path):
    with in_process(tmp_path / "store") as url:
        config = LoadConfig(url=url, duration=1.2, vus=3, seed=2)
        summary, _ = execute(
            config, None, summary_path=tmp_path / "s.json", timeline_path=tmp_path / "t.csv"
        )
    written = json.loads((tmp_path / "s.json").read_text())
    assert written == msgspec.to_builtins(summary)
    assert set(written) >= {
        "requests",
        "duration_s",
        "rps",
        "errors",
        "dropped",
        "latency_ms",
        "by_op",
        "by_status",
        "thresholds",
    }
    assert set(written["latency_ms"]) == {"p50", "p90", "p95", "p99", "p99_9", "max"}
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[0] == "second,vus,requests,errors,p50_ms,p95_ms,p99_ms" and len(lines) == 3


@pytest.mark.parametrize("client", CLIENTS)
def test_a_request_the_server_may_have_run_is_never_resent_behind_our_back(client):
    """A DELETE dies with its connection: one copy reached the server, so it is info."""
    import asyncio

    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    deletes = []

    def serve_one_connection():
        conn, _ = listener.accept()
        conn.recv(65536)  # GET /items: answer it and keep the connection
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        deletes.append(conn.recv(65536))  # the DELETE reaches the server...
        listener.close()  # ...which dies before answering: a resend would be refused
        conn.close()

    server = threading.Thread(target=serve_one_connection, daemon=True)
    server.start()

    async def scenario():
        async with open_client(client, url, 1, 2.0) as session:
            await session.send("GET", "/items", None)
            return await session.send("DELETE", "/orders/1", None)

    outcome = asyncio.run(scenario())
    server.join(5)
    assert len(deletes) == 1 and deletes[0].startswith(b"DELETE /orders/1")
    assert (outcome.status, outcome.type) == (None, "info")
    assert outcome.cause.startswith("reset")


LIMIT_PROBE = (
    "import resource; from loadtests.limits import raise_open_files; "
    "print(raise_open_files(1000)); print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
)


def limited_to(soft: int, hard: int):
    """Return a preexec_fn that starts a child with this open-file limit."""
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_load_raises_its_own_open_file_limit_to_what_its_users_need():
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard == resource.RLIM_INFINITY or hard >= 1064, "this machine's hard limit is too low"
    done = subprocess.run(
        [sys.executable, "-c", LIMIT_PROBE], capture_output=True, text=True, check=True,
        preexec_fn=limited_to(256, hard),
    )  # fmt: skip
    assert done.stdout.split() == ["None", "1064"]


def test_a_hard_limit_below_the_need_is_reported_with_the_command_that_raises_it():
    done = subprocess.run(
        [sys.executable, "-m", "racelab", "load", "http://127.0.0.1:9/", "--vus", "5000",
         "--duration", "1s", "--quiet"],
        capture_output=True, text=True, preexec_fn=limited_to(256, 300),
    )  # fmt: skip
    assert "5000 virtual users may need 5064 open files" in done.stderr
    assert "may open 300 (hard limit 300)" in done.stderr and "ulimit -n 5064" in done.stderr
    assert done.returncode == 1 and "Traceback" not in done.stderr  # nothing listens on port 9


class Stamping(RawServer):
    """Answers each request at once and notes when it arrived, on the generator's clock."""

    def __init__(self):
        self.arrived: list[float] = []
        super().__init__()

    def serve(self, conn):
        while conn.recv(65536):
            self.arrived.append(time.perf_counter())
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")


@pytest.mark.parametrize("loop", EVENT_LOOPS)
def test_an_arrival_is_never_stamped_later_than_it_was_sent(loop):
    """t0 <= the moment the request reached the server, for every request of an open run.

    Sending an arrival early (uvloop runs a timer under half a millisecond at once) but
    stamping it with its later scheduled time would make [t0, t1] miss part of the request.
    """
    from loadtests.run import run_on_loop
    from loadtests.runner import LoadRun

    server = Stamping()
    try:
        config = LoadConfig(url=server.url, duration=1.0, vus=20, rate=3000, mix={"items": 1})
        run = LoadRun(config, RecordingHistory(), items={"sku-1": 1})
        run_on_loop(run.run(), loop)
    finally:
        server.close()
    t0s = sorted(r["t0"] for r in run.history.records[1:])
    arrived = sorted(t - run._start for t in server.arrived)
    assert len(t0s) == len(arrived) > 100
    # If every request's t0 precedes its arrival, the k-th smallest t0 precedes the k-th
    # smallest arrival; t0 is written to the microsecond, hence the 1 µs.
    assert all(t0 <= t + 1e-6 for t0, t in zip(t0s, arrived, strict=True))


class Stocked(RawServer):
    """Answers GET /items, then takes every other request and never answers it."""

    def __init__(self):
        self.taken = 0
        super().__init__()

    def serve(self, conn):
        while data := conn.recv(65536):
            if data.startswith(b"GET /items"):
                body = b'{"items": [{"sku": "sku-1", "stock": 5}]}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                self.taken += 1


@pytest.mark.parametrize("client", CLIENTS)
def test_ctrl_c_still_records_every_request_in_flight(tmp_path, client):
    """A create the server may have run must stay in the history: info, "run ended"."""
    import signal

    server = Stocked()
    command = [sys.executable, "-m", "racelab", "load", server.url, "--vus", "4",
               "--duration", "60s", "--timeout", "60s", "--mix", "create=1", "--client", client,
               "--history", str(tmp_path / "h.jsonl"), "--quiet"]  # fmt: skip
    # A shell running us in the background (nohup, CI) ignores SIGINT, and a child inherits
    # that; a user at a terminal has it at its default, so the child gets the default back.
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while server.taken < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    finally:
        process.kill()
        process.communicate()
        server.close()
    history = read_history(tmp_path / "h.jsonl")
    assert server.taken == 4
    assert [(r["op"], r["type"], r["error"]) for r in history.ops] == [
        ("create", "info", "run ended")
    ] * 4


class SlowStock(RawServer):
    """Answers GET /items after READ_S, noting the wall time it answered; the rest at once."""

    READ_S = 0.3

    def __init__(self):
        self.answered_items: list[float] = []
        super().__init__()

    def serve(self, conn):
        while data := conn.recv(65536):
            if data.startswith(b"GET /items"):
                time.sleep(self.READ_S)
                self.answered_items.append(time.time())
                body = b'{"items": [{"sku": "sku-1", "stock": 5}]}'
            else:
                body = b"{}"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def test_the_run_starts_its_clock_after_the_stock_is_read():
    """`started` is when t0 = 0, after the stock was read: a merge relies on it (interop.py).

    Stamped before a slow read, a worker's writes would look READ_S earlier than they were,
    and a merge could take a stock reading that another worker's writes had already changed.
    """
    from loadtests.run import run_on_loop
    from loadtests.runner import LoadRun

    server = SlowStock()
    try:
        config = LoadConfig(url=server.url, duration=5.0, vus=1, max_requests=3, mix={"get": 1})
        run = LoadRun(config, RecordingHistory())
        run_on_loop(run.run(), EVENT_LOOPS[0])
    finally:
        server.close()
    started = datetime.fromisoformat(run.history.records[0]["started"]).timestamp()
    assert run.history.records[0]["items"] == {"sku-1": 5}
    assert len(server.answered_items) == 1
    assert started >= server.answered_items[0] - 1e-6
    assert len(run.history.records[1:]) == 3
    assert all(r["t0"] >= 0 for r in run.history.records[1:])


class LateFirstStock(SlowStock):
    """Answers its first GET /items after READ_S, every later one at once."""

    def serve(self, conn):
        self.READ_S = 0.0 if self.answered_items else SlowStock.READ_S
        super().serve(conn)


def test_a_stock_read_that_times_out_is_sent_again_before_the_load_starts():
    # A fresh server on a busy machine may answer its first request late; a load whose
    # timeout is 0.1 s (compare --faults retry) must still read the stock it starts from.
    from loadtests.run import run_on_loop
    from loadtests.runner import LoadRun

    server = LateFirstStock()
    try:
        config = LoadConfig(url=server.url, duration=5.0, vus=1, max_requests=2, timeout=0.1,
                            mix={"get": 1})  # fmt: skip
        run = LoadRun(config, RecordingHistory())
        run_on_loop(run.run(), EVENT_LOOPS[0])
    finally:
        server.close()
    assert run.history.records[0]["items"] == {"sku-1": 5}
    assert len(server.answered_items) >= 2  # the late answer, and the one read
    assert [r["type"] for r in run.history.records[1:]] == ["ok", "ok"]

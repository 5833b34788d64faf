"""The step scheduler takes orders only from this run, reads bounded lines, and never dies.

Every test speaks to a real scheduler over its real Unix socket; the held "server" is the
servers' own pause client (servers.stepping.ask) in a thread.
"""

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading

import pytest

from racelab.step.scheduler import Scheduler
from racelab.step.wire import LINE_LIMIT
from servers.stepping import PROTOCOL, ask

ANSWER_WAIT_S = 10.0  # far longer than any refusal takes; a hang fails instead of blocking


@pytest.fixture
def scheduler():
    scheduler = Scheduler({"A": ["read", "write"]}, block_wait=0.1)
    yield scheduler
    scheduler.close()


@pytest.fixture
def thread_errors(monkeypatch):
    """Collect every exception a thread dies of."""
    errors = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    return errors


def send(scheduler: Scheduler, data: bytes) -> bytes:
    """Send raw bytes to the scheduler; return all it answers before it closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(ANSWER_WAIT_S)
        conn.connect(scheduler.path)
        conn.sendall(data)
        reply = b""
        try:
            while chunk := conn.recv(1024):
                reply += chunk
        except ConnectionResetError:  # closed with our bytes unread: closed all the same
            pass
    return reply


def line(scheduler: Scheduler, session="A", point="read", pid=424242, secret=None) -> bytes:
    """Return a well-formed pause line (with this run's secret unless told otherwise)."""
    return f"{PROTOCOL} {secret or scheduler.secret} {session} {point} {pid}\n".encode()


def hold_a(scheduler: Scheduler) -> tuple[threading.Thread, list]:
    """Pause session A at read as a server would; return once the scheduler holds it."""
    replies = []
    real = (scheduler.path, scheduler.secret)
    thread = threading.Thread(target=lambda: replies.append(ask(real, "A", "read")), daemon=True)
    thread.start()
    lane = scheduler.lanes["A"]
    with scheduler.changed:
        assert scheduler.changed.wait_for(lambda: lane.held is not None, ANSWER_WAIT_S)
    return thread, replies


def test_a_second_arrival_for_a_held_session_is_refused_and_the_first_stays_held(scheduler):
    thread, replies = hold_a(scheduler)
    reply = send(scheduler, line(scheduler, "A", "write"))
    assert reply == b"no session A is already held at read\n"
    lane = scheduler.lanes["A"]
    assert lane.held is not None and lane.held[0] == "read" and lane.held[2] == os.getpid()
    assert thread.is_alive() and replies == []  # the real request was not let go
    assert scheduler.step("A").outcome == "waiting"  # only the schedule moves it
    thread.join(ANSWER_WAIT_S)
    assert replies == ["go"]


@pytest.mark.parametrize(
    "data",
    [
        b"A read 424242\n",  # the old, unsigned line
        b"RACELAB-PAUSE/1 A read 424242\n",  # no secret at all
        b"RACELAB-PAUSE/1 " + b"0" * 32 + b" A read 424242\n",  # a guessed one
    ],
    ids=["old-line", "no-secret", "wrong-secret"],
)
def test_a_pause_without_this_runs_secret_is_refused_and_holds_nothing(scheduler, data):
    reply = send(scheduler, data)
    assert reply.startswith(b"no ") and reply.endswith(b"\n")
    assert scheduler.lanes["A"].held is None and scheduler.lanes["A"].pids == set()


def test_the_servers_pause_client_is_told_why_it_was_refused(scheduler):
    assert ask((scheduler.path, "x" * 32), "A", "read") == "no wrong secret"
    assert scheduler.refusals == ["wrong secret"]


@pytest.mark.parametrize(
    "data",
    [
        b"hello\n",
        b"A read x\n",  # the old format with a pid that is no number
        b"\xff\xfe\x00\n",
        b"RACELAB-PAUSE/1 SECRET A read 1 extra\n",
        b"RACELAB-PAUSE/1 SECRET A read 1\nRACELAB-PAUSE/1 SECRET A write 1\n",  # two lines
        b"\n",
    ],
    ids=["word", "bad-pid", "binary", "extra-field", "two-lines", "empty"],
)
def test_a_malformed_line_is_refused_and_the_scheduler_goes_on(scheduler, thread_errors, data):
    data = data.replace(b"SECRET", scheduler.secret.encode())
    assert send(scheduler, data).startswith(b"no ")
    thread, replies = hold_a(scheduler)  # a real pause after it is still held and released
    scheduler.release_all()
    thread.join(ANSWER_WAIT_S)
    assert replies == ["go"] and thread_errors == []


def test_a_line_without_a_newline_is_cut_off_at_the_bound_not_read_forever():
    scheduler = Scheduler({"A": ["read"]}, block_wait=0.1, read_timeout=3600)
    try:
        # The read timeout is an hour, so an answer within seconds is the byte bound's doing.
        refusal = f"no no newline within {LINE_LIMIT} bytes\n".encode()
        assert send(scheduler, b"A" * LINE_LIMIT) == refusal
        # Far more: closed after the bound (the refusal, or a reset for the bytes left unread).
        assert send(scheduler, b"A" * (LINE_LIMIT * 64)) in (refusal, b"")
        assert scheduler.refusals == [refusal[3:-1].decode()] * 2
    finally:
        scheduler.close()


def test_a_line_that_never_ends_is_refused_after_the_read_timeout():
    scheduler = Scheduler({"A": ["read"]}, block_wait=0.1, read_timeout=0.2)
    try:
        assert send(scheduler, b"RACELAB-PAUSE/1 ") == b"no no line within 0.2 s\n"
    finally:
        scheduler.close()


def test_a_line_sent_a_byte_at_a_time_is_bounded_by_one_timeout_in_all():
    scheduler = Scheduler({"A": ["read"]}, block_wait=0.1, read_timeout=0.3)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(scheduler.path)
            conn.settimeout(0.05)  # the drip's pace: each byte well inside a per-read timeout
            reply = b""
            for _ in range(LINE_LIMIT - 1):  # a drip that outlasts any bound but the deadline
                try:
                    conn.sendall(b"A")
                    reply += conn.recv(64)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if reply.endswith(b"\n"):
                    break
        assert reply == b"no no line within 0.3 s\n"
    finally:
        scheduler.close()


def test_the_socket_sits_in_a_folder_only_this_user_can_open(scheduler):
    folder = os.stat(os.path.dirname(scheduler.path))
    assert stat.S_IMODE(folder.st_mode) == 0o700 and folder.st_uid == os.getuid()
    assert stat.S_ISSOCK(os.stat(scheduler.path).st_mode)


SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")  # one another user may run


@pytest.mark.skipif(os.getuid() != 0 or not SYSTEM_PYTHON, reason="needs root and a system python3")
def test_another_user_cannot_reach_the_socket(scheduler):
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    sys.exit(3)\n"
    )
    done = subprocess.run([SYSTEM_PYTHON, "-c", probe, scheduler.path], user=65534,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert scheduler.refusals == [] and scheduler.lanes["A"].held is None


def test_serve_with_step_and_no_secret_is_bad_usage(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "racelab", "serve", "json", "--data-dir", str(tmp_path),
         "--step", str(tmp_path / "pause.sock")],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "RACELAB_STEP_SECRET"},
    )  # fmt: skip
    assert done.returncode == 2 and "--step-secret" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_temp_folder_too_deep_for_a_socket_address_falls_back_to_tmp(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    scheduler = Scheduler({}, 1.0)
    try:
        assert scheduler.path.startswith("/tmp/racelab-step-") and os.path.exists(scheduler.path)
    finally:
        scheduler.close()
    assert not os.path.exists(os.path.dirname(scheduler.path))

"""Hostile answers from a server under test: the checker's API read and `racelab conform`
end with that target's clean failure, naming the reason, and never raise or hang.

A real socket server on loopback answers each request as hypothesis says: JSON nested past
Python's stack, lone surrogates as \\ud800 escapes, bodies that never end, a byte at a
time, a Content-Length that lies, no HTTP at all. (tests/test_fuzz_http.py is the other
direction: hostile requests to racelab's servers.)
"""

import json
import socket
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker import check
from checker.untrusted import MAX_BYTES
from racelab.conform.run import run_rules
from shapes.reports import to_json
from tests.hostile_server import Hostile

SECONDS = 0.25  # the time bound of an answer that is meant to run out of time
# Any other answer ends at once; its bound is long enough that a busy machine's scheduling
# never runs it out first and changes the reason (the CLI's default is 30 s).
PATIENT_S = 3.0
BOUND_S = 15.0  # far above either, far below the minute a dripping answer would take

# How each answer is sent, and the words the failure must name (None: any clean outcome).
TRANSPORTS = {
    "exact": None,  # the body, with its true Content-Length
    "drip": "in time",  # a true Content-Length, then a byte every 20 ms
    "endless": f"more than {MAX_BYTES} bytes",  # no Content-Length, bytes until closed
    "endless-chunked": f"more than {MAX_BYTES} bytes",
    "cut-short": "cut short",  # Content-Length 1000, ten bytes, then closed
    "overlong": "in time",  # Content-Length 1000, ten bytes, then nothing while open
    "announce-huge": "announcing",  # Content-Length of a terabyte
    "not-http": "no answer",
    "close": "no answer",
    "hang": "no answer in time",
    "header-drip": "in time",  # a status line, then a header a byte at a time
}


def reason_is_time(reason: str | None) -> bool:
    """Say whether a transport's failure is its answer running out of time."""
    return reason is not None and "in time" in reason


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


TEXTS = ("sku", "token", "created_at")
surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
bodies = st.one_of(
    st.sampled_from([1_000, 20_000, 200_000]).map(nested),
    st.sampled_from([5_000, 100_000]).map(lambda n: b'{"items": ' + b"[" * n),
    surrogates.map(lambda s: json.dumps({"items": [{"sku": s, "stock": 1}]}).encode()),
    surrogates.map(
        lambda s: json.dumps({"orders": [dict.fromkeys(TEXTS, s) | {"id": 1, "qty": 1}]}).encode()
    ),
    st.just(b'{"items": [{"sku": "a", "stock": ' + b"9" * 5000 + b"}]}"),
    st.just(b'{"orders": [{"id": NaN}], "items": [{"sku": "a", "stock": Infinity}]}'),
    st.binary(max_size=200),
    st.sampled_from([b"", b"null", b"[]", b'{"items": {}}', b'{"orders": 1}', b"\xff\xfe{\x00"]),
)


@pytest.fixture(scope="module")
def hostile():
    server = Hostile()
    yield server
    server.close()


QUICK = settings(
    max_examples=30,  # about 6 s: the transports that wait cost SECONDS each
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@QUICK
@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # a failure's big body
@given(transport=st.sampled_from(sorted(TRANSPORTS)), status=st.sampled_from([200, 500]),
       body=bodies, good_items=st.booleans())  # fmt: skip
def test_a_hostile_answer_is_the_targets_clean_failure_with_its_reason(
    hostile, transport, status, body, good_items
):
    hostile.plan = (transport, status, body, good_items)
    seconds = SECONDS if reason_is_time(TRANSPORTS[transport]) else PATIENT_S
    started = time.monotonic()
    report = check(hostile.url, read_timeout=seconds)  # what `racelab check --url` runs
    results = run_rules(hostile.url, timeout=seconds)  # what `racelab conform` runs
    assert time.monotonic() - started < BOUND_S
    error = report.store.error
    reason = TRANSPORTS[transport]
    if reason is not None or not report.store.readable:
        assert report.verdict == "unknown" and error.startswith("final state unreadable: GET /")
        assert reason is None or reason in error, error
    to_json(report).encode("utf-8", "backslashreplace")  # writable
    first = results[0]
    assert first.name == "health" and not first.passed
    if reason is not None:
        assert any(reason in line for line in first.lines), first.lines
    for result in results:  # every word a report prints can be encoded
        "\n".join([result.want, *result.lines]).encode("utf-8")


def test_the_watchdog_leaves_no_thread_behind(hostile):
    # The checker forks a child to read big histories only when it runs no other thread.
    hostile.plan = ("hang", 200, b"", False)
    check(hostile.url, read_timeout=SECONDS)
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]


def test_a_refused_connection_is_named(hostile):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = check(f"http://127.0.0.1:{port}", read_timeout=SECONDS)
    assert "GET /items got no answer (ConnectionRefusedError" in report.store.error

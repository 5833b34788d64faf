"""Hostile HTTP input against every strategy, at one and two workers, over raw sockets.

Bytes, pathological but valid JSON (shape, nesting, size, numbers, strings, duplicate keys),
odd encodings and headers: every answer must be a documented 2xx or 4xx with the error body
of the contract, and afterwards the checker must find the store changed by nothing but the
requests it acknowledged. tests/corpus/http.json keeps what earlier fuzzing found, replayed
first; the generated part is derandomized, so CI runs the same bounded budget every time.
"""

import http.client
import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker import check
from checker.stores import resolve_store_path
from history import op_record, parse_lines, run_record
from tests.conftest import ALL_TARGETS
from tests.live import served

# Each raw request by what it found, one latin-1 character a byte: JSON keeps them exact.
CORPUS = json.loads((Path(__file__).parent / "corpus" / "http.json").read_text())
DOCUMENTED = {200, 201, 204, 400, 404, 405, 409, 413, 415, 503}
# Two workers add gunicorn's request handling, the same for every backend: once per file
# store is enough for it, and the postgres strategies are fuzzed in one process.
TARGETS = [(b, s, w) for b, s in ALL_TARGETS for w in ((1,) if b == "postgres" else (1, 2))]
EXAMPLES = 100
SKUS = ["sku-1", "sku-2"]


def exchange(url: str, request: bytes) -> tuple[int, bytes]:
    """Send one raw request on its own connection; return the status and the body."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


def raw_request(method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """Build an HTTP/1.1 request that closes its connection; Content-Length unless chunked."""
    names = {name.lower() for name, _ in headers}
    if "transfer-encoding" in names:
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    elif "content-length" not in names:
        headers = [*headers, ("Content-Length", str(len(body)))]
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def assert_documented(status: int, body: bytes, request: bytes) -> None:
    """A documented status; an error carries the contract's body."""
    assert status in DOCUMENTED, (status, body[:300], request[:300])
    if status >= 400:
        error = json.loads(body)
        assert isinstance(error["error"], str) and isinstance(error["message"], str), body


# --- what the fuzzer sends ------------------------------------------------------------------

odd_numbers = st.sampled_from(
    ["1e400", "-1e400", "NaN", "Infinity", "-0", "1.0", "1e2", "9" * 4000, "-" + "9" * 300, "0x10"]
)
odd_strings = st.sampled_from(
    ['"\\ud800"', '"\\udfff\\ud800"', '"a\\u0000b"', '"' + "x" * 5000 + '"', '""', '"\\"',
     '"sku-1\\n"', '"\\u00e9"', '"sku-1"', '"t-ok"', '"\\ufeff"']
)  # fmt: skip
plain_values = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    odd_numbers,
    odd_strings,
    st.text(max_size=30).map(json.dumps),
    st.sampled_from(["true", "false", "null", "[]", "{}", "[1]", '{"a":1}']),
)


def nested(depth: int, leaf: str = "1") -> str:
    """Return a value nested depth arrays deep."""
    return "[" * depth + leaf + "]" * depth


depths = st.sampled_from([2, 100, 999, 1000, 1001, 3000, 20_000])
values = st.one_of(plain_values, depths.map(nested))


@st.composite
def order_texts(draw) -> str:
    """A valid order with one or two fields made hostile, so it reaches deep into the server;
    sometimes a field left out, or extra and duplicate keys."""
    fields = {
        "sku": json.dumps(draw(st.sampled_from(SKUS))),
        "qty": str(draw(st.integers(1, 3))),
        "token": json.dumps(draw(st.from_regex(r"f[a-z0-9]{1,10}", fullmatch=True))),
    }
    for name in draw(st.lists(st.sampled_from(list(fields)), min_size=1, max_size=2)):
        fields[name] = draw(values)
    pairs = list(fields.items())
    if draw(st.integers(0, 4)) == 0:
        pairs.pop(draw(st.integers(0, len(pairs) - 1)))
    if draw(st.integers(0, 4)) == 0:
        pairs += draw(st.lists(st.tuples(st.sampled_from(["sku", "qty", "token", "x", ""]),
                                         values), min_size=1, max_size=3))  # fmt: skip
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in draw(st.permutations(pairs))) + "}"


encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1"])
bodies = st.one_of(
    order_texts().map(str.encode),
    order_texts().map(str.encode),
    st.tuples(order_texts(), encodings).map(lambda te: te[0].encode(te[1], "surrogatepass")),
    values.map(str.encode),
    st.binary(max_size=200),
    depths.map(lambda n: nested(n).encode()),
    st.integers(1, 3_000).map(lambda n: ("{" + ",".join(f'"k{i}":1' for i in range(n)) + "}")
                                .encode()),
)  # fmt: skip
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "application/json; charset=latin-1",
     "Application/JSON", "application/json;;", "text/plain", "", "multipart/form-data; boundary=x",
     None]
)  # fmt: skip
paths = st.one_of(
    st.just("/orders"),
    st.sampled_from(["/orders/1", "/orders/2", "/orders/0", "/orders/-1", "/orders/1e3",
                     "/orders/" + "9" * 50, "/orders/%00", "/orders/%ff", "/orders/%C3%A9",
                     "/orders?limit=0", "/orders?limit=" + "9" * 50, "/orders?after_id=-1",
                     "/orders?limit=%ff", "/orders?limit=1&limit=2", "/items?x=%00", "/%2e%2e/"]),
)  # fmt: skip


@st.composite
def requests(draw) -> tuple[str, str, list, bytes]:
    """One hostile request: mostly POST /orders, sometimes a read or a cancel of anything."""
    method = draw(st.sampled_from(["POST"] * 6 + ["GET", "DELETE", "PUT", "PATCH"]))
    path = draw(paths)
    headers = []
    content_type = draw(content_types)
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    if draw(st.integers(0, 5)) == 0:
        headers.append(("Transfer-Encoding", "chunked"))
    return method, path, headers, draw(bodies) if method in ("POST", "PUT", "PATCH") else b""


# --- what the checker is told -----------------------------------------------------------------


def history_record(method: str, path: str, body: bytes, status: int, answer: bytes, t: float):
    """Return the history record of a request that could have written, or None."""
    type_ = "ok" if status < 300 else "fail"
    if method == "DELETE" and path.startswith("/orders/") and path[8:].isdigit():
        order_id = int(path[8:])
        return op_record("cancel", 0, None, None, None, order_id, status, type_, t, t + 1e-3)
    if method != "POST" or path != "/orders":
        return None
    try:
        order = json.loads(body)
    except (ValueError, RecursionError):
        return None  # no token the server could have stored it under
    if not isinstance(order, dict) or not isinstance(order.get("token"), str):
        return None
    sku, qty = order.get("sku"), order.get("qty")
    return op_record(
        "create", 0, order["token"], sku if isinstance(sku, str) else None,
        qty if type(qty) is int else None, json.loads(answer)["id"] if status < 300 else None,
        status, type_, t, t + 1e-3,
    )  # fmt: skip


def send_and_record(url: str, request: tuple, records: list) -> None:
    """Send one request, insist on a documented answer, and note what it may have written."""
    method, path, headers, body = request
    raw = raw_request(method, path, headers, body)
    status, answer = exchange(url, raw)
    assert_documented(status, answer, raw)
    record = history_record(method, path, body, status, answer, float(len(records)))
    if record is not None:
        records.append(record)


@pytest.mark.parametrize(
    ("backend", "strategy", "workers"), TARGETS, ids=[f"{b}:{s}@{w}" for b, s, w in TARGETS]
)
def test_hostile_requests_get_documented_answers_and_change_nothing_else(
    tmp_path, backend, strategy, workers
):
    records: list[dict] = []
    with served(tmp_path, backend, strategy, workers, skus=len(SKUS), stock=1000) as (url, data):
        for name, request in CORPUS.items():
            raw = request.encode("latin-1")
            status, answer = exchange(url, raw)
            assert_documented(status, answer, raw)
            assert 400 <= status < 500, (name, status, answer)

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(requests())
        def fuzz(request):
            send_and_record(url, request, records)

        fuzz()
    items = dict.fromkeys(SKUS, 1000)
    lines = [json.dumps(run_record(url, "fuzz", 0, {}, items))]
    lines += [json.dumps(r) for r in records]
    report = check(resolve_store_path(data), parse_lines(lines), min_overlaps=0)
    assert report.anomalies == dict.fromkeys(report.anomalies, 0), report.examples

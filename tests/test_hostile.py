"""Hostile input: schemathesis against every target, garbage to the checker and the loader."""

import importlib.util
import json
import socket
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import history.read
from history import HistoryError, HistoryStream, op_record, parse_lines, read_history
from loadtests.client import CLIENTS
from loadtests.config import LoadConfig
from loadtests.run import execute
from loadtests.runner import LoadRun
from tests.builders import create, history_lines, order, write_json_store
from tests.conftest import ALL_TARGETS
from tests.hostile_server import Hostile
from tests.live import RawServer, RecordingHistory, served

BIN = Path(sys.executable).parent
PY_SERVER = Path(__file__).resolve().parent.parent / "examples" / "python" / "contract_server.py"


# Strategies share the routes: schemathesis runs on the one of each backend whose writes
# and answers differ most (JSON's optimistic version check and its 409s; SQLite's and
# PostgreSQL's transactional schemas, busy and serialization answers). Every strategy gets
# the hostile-request fuzz in test_fuzz_http.py.
SHIFT_NAMES = """
[dictionaries.shifts]
values = ["s1", "s2", "s3", "s4", "s5"]

[dictionaries.doctors]
values = ["d1", "d2"]

[parameters]
"path.shift" = { dictionary = "shifts", probability = 0.8 }
"body.doctor" = { dictionary = "doctors", probability = 0.8 }
"""
SWEPT = [("json", "optimistic"), ("sqlite", "transactional"), ("postgres", "transactional")]
assert set(SWEPT) <= set(ALL_TARGETS)


@pytest.mark.parametrize(("backend", "strategy"), SWEPT, ids=[f"{b}:{s}" for b, s in SWEPT])
def test_schemathesis_finds_no_5xx_and_no_schema_violation(tmp_path, backend, strategy):
    # Shift and doctor names are data, not schema: mostly real ones, so a leave can succeed.
    (tmp_path / "schemathesis.toml").write_text(SHIFT_NAMES)
    with served(tmp_path, backend, strategy, 1) as (url, _):
        result = subprocess.run(
            [
                str(BIN / "schemathesis"),
                "run",
                f"{url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "15",
                "--seed",
                "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "No issues found" in result.stdout


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=500))
def test_any_bytes_as_history_are_a_clean_error_or_a_history(content):
    try:
        parse_lines(content.splitlines(keepends=True))
    except HistoryError as e:
        assert e.lineno >= 0 and str(e)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["op", "vu", "t0", "t1", "type", "token"]),
            st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats()),
        ),
        max_size=4,
    )
)
def test_mangled_records_name_their_line(records):
    lines = [json.dumps({"op": "run", "items": {"sku-1": 1}})] + [json.dumps(r) for r in records]
    try:
        history = parse_lines(lines)
        assert len(history.ops) == len(records)
    except HistoryError as e:
        assert 2 <= e.lineno <= len(lines)


GOOD = op_record("create", 1, "tok", "sku-1", 2, 7, 201, "ok", 0.5, 0.75)
LINES = [
    json.dumps(GOOD).encode(),
    json.dumps(GOOD, indent=None, separators=(",", ":")).encode() + b"  ",
    json.dumps(GOOD).encode() + b"\r",
    b"  " + json.dumps(GOOD).encode(),
    json.dumps({**GOOD, "error": "caf\u00e9 \u2603"}, ensure_ascii=False).encode(),
    json.dumps({**GOOD, "vu": True}).encode(),
    json.dumps({**GOOD, "t0": float("nan")}).encode(),
    json.dumps({**GOOD, "op": "delete"}).encode(),
    json.dumps({k: v for k, v in GOOD.items() if k != "t1"}).encode(),
    json.dumps(GOOD).encode() + b" {}",
    b"[1, 2]",
    b"",
    b"   ",
    b"\xff\xfe not utf-8",
    b'{"op": "create", "vu": 1',
    # Lines that a fast C decoder might read differently from the json module:
    json.dumps({**GOOD, "t0": 1, "extra": [1]}).encode(),
    json.dumps({**GOOD, "vu": 1.0}).encode(),
    json.dumps({**GOOD, "t1": 10**400}).encode(),
    json.dumps({**GOOD, "token": None}).encode(),
    json.dumps({**GOOD, "op": "cancel", "token": None, "order_id": 3}).encode(),
    json.dumps({**GOOD, "op": "cancel", "token": None, "order_id": None}).encode(),
    json.dumps({**GOOD, "op": "get", "token": None}).encode(),
    json.dumps({"op": "list", "type": "fail", "t0": 1, "t1": 2}).encode(),
    json.dumps(GOOD).encode()[:-1] + b', "qty": 5}',
    json.dumps({**GOOD, "error": "\ud800"}).encode(),
]
RUN_LINE = json.dumps({"op": "run", "items": {"sku-1": 1}}).encode()


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.sampled_from(LINES), max_size=12),
    lenient=st.booleans(),
    block=st.integers(1, 300),
)
def test_the_streamed_reader_agrees_with_the_line_parser(tmp_path_factory, lines, lenient, block):
    """Whatever the lines and however the file is cut into blocks, both readers say the same."""
    path = tmp_path_factory.mktemp("h") / "h.jsonl"
    content = b"\n".join([RUN_LINE, *lines]) + b"\n"
    path.write_bytes(content)
    original, history.read.READ_BLOCK = history.read.READ_BLOCK, block
    try:
        streamed = _outcome(lambda: read_history(path, lenient))
    finally:
        history.read.READ_BLOCK = original
    with open(path, "rb") as f:
        assert streamed == _outcome(lambda: parse_lines(f, path, lenient))
    if streamed[0] == "read":
        with HistoryStream(path, lenient) as stream:
            offsets = [offset for offset, _ in stream]
            assert [stream.record_at(o) for o in offsets] == streamed[2]


def _outcome(read):
    try:
        history = read()
    except HistoryError as e:
        return ("error", e.lineno, str(e))
    return ("read", history.run, history.ops, history.skipped)


class Misbehaving(RawServer):
    """A loopback server that answers GET /items properly and then misbehaves on purpose."""

    def __init__(self, mode: str):
        self.mode = mode
        super().__init__()

    def serve(self, conn):
        while request := conn.recv(65536):
            if request.startswith(b"GET /items"):
                body = b'{"items":[{"sku":"sku-1","stock":10}]}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            elif self.mode == "garbage":
                conn.sendall(b"\x00\xffnot http at all\r\n\r\n")
                return conn.close()
            elif self.mode == "close":
                return conn.close()
            elif self.mode == "500":
                conn.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nboom")
            # "hang": read and never answer


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("mode", ["garbage", "close", "500", "hang"])
def test_a_misbehaving_target_still_yields_a_complete_history(tmp_path, mode, client):
    server = Misbehaving(mode)
    try:
        # Bounded by requests: a server that answers at once would have three VUs spin for
        # the whole second (a CPU second each test); how each answer is recorded is checked.
        config = LoadConfig(
            url=server.url,
            duration=1.0,
            vus=3,
            timeout=0.3,
            seed=1,
            mix={"create": 1},
            client=client,
            max_requests=30,
        )
        summary, run = execute(config, tmp_path / "h.jsonl")
    finally:
        server.close()
    lines = (tmp_path / "h.jsonl").read_text().splitlines()
    history = parse_lines(lines)
    assert summary.requests == len(history.ops) > 0
    # Nothing is ok; a request that reached the server is info. One refused or cut before
    # a byte of it left (the server had just closed) is fail, on a busy machine.
    types = {r["type"] for r in history.ops}
    assert "info" in types and types <= {"info", "fail"}
    assert summary.errors == summary.requests


def test_a_refused_connection_is_fail_because_nothing_was_sent(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Bounded by requests too: a refused connect comes back at once, and two VUs would spin.
    config = LoadConfig(url=f"http://127.0.0.1:{port}", duration=0.5, vus=2, mix={"create": 1},
                        max_requests=20)  # fmt: skip
    run = LoadRun(config, RecordingHistory(), items={"sku-1": 1})  # nobody to ask for them
    import asyncio

    asyncio.run(run.run())
    _, *records = run.history.records
    assert records and {(r["type"], r["error"]) for r in records} == {("fail", "connect refused")}


def test_a_chunked_body_over_the_limit_is_refused(tmp_path):
    with served(tmp_path, "json", "file-lock", 1) as (url, data_dir):
        before = (data_dir / "store.json").read_bytes()
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(
                b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            answer = b""
            try:
                for _ in range(200):  # up to 100 MiB, stopping as soon as the server answers
                    conn.sendall(b"80000\r\n" + b" " * 0x80000 + b"\r\n")
            except OSError:
                pass
            try:
                answer = conn.recv(4096)
            except OSError:
                pass
        assert answer.startswith(b"HTTP/1.1 413")
        assert (data_dir / "store.json").read_bytes() == before


# --- hostile answers: a server under test is untrusted input (tests/test_fuzz_answers.py) ----


def racelab(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "racelab", *args], capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


@pytest.fixture
def hostile():
    server = Hostile()
    yield server
    server.close()


DEEP = b"[" * 200_000 + b"]" * 200_000


PAGE_1 = "GET /orders?limit=1000&after_id=0"


@pytest.mark.parametrize(
    ("plan", "reason"),
    [(("exact", 200, DEEP, False), "GET /items answered 200 with a body nested too deeply"),
     (("drip", 200, b"[]", True), f"{PAGE_1} got a 200 answer not whole in time"),
     (("endless", 200, b"", False), "GET /items got 200 and a body of more than")],
)  # fmt: skip
def test_check_url_names_why_a_hostile_answer_could_not_be_read(hostile, plan, reason):
    hostile.plan = plan
    run = racelab("check", "--url", hostile.url, "--read-timeout", "0.5")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert f"final state unreadable: {reason}" in run.stdout


def test_conform_fails_on_a_hostile_answer_and_says_why(hostile):
    hostile.plan = ("exact", 200, DEEP, False)
    run = racelab("conform", hostile.url, "--no-load")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "got:  200 (a body nested too deeply to read)" in run.stdout


def test_check_explains_a_lone_surrogate_escaped(tmp_path):
    items = {"sku-\ud800": 10}
    store = write_json_store(tmp_path / "store.json", items, [order(1, "a", sku="sku-\ud800")])
    writes = [create("a", order_id=1, sku="sku-\ud800"), create("t-\udc00", order_id=2)]
    history_file = tmp_path / "h.jsonl"
    history_file.write_text("\n".join(history_lines(items, writes)) + "\n")
    run = racelab("check", str(store), "--history", str(history_file), "--explain")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "token t-\\udc00 was acknowledged" in run.stdout and "sku-\\ud800" in run.stdout


def test_compare_writes_its_reports_when_a_server_names_a_sku_with_a_lone_surrogate(tmp_path):
    spec = importlib.util.spec_from_file_location("contract_server", PY_SERVER)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    store = example.Store(1, 100_000, {"drop-every-5th"})  # fails, so examples are drawn
    store.items = {"sku-\ud800": 100_000}
    server = ThreadingHTTPServer(("127.0.0.1", 0), example.make_handler(store))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        run = racelab("compare", "--targets", f"url:{url}", "--max-requests", "200",
                      "--duration", "30s", "--out", str(tmp_path / "out"))  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert "Traceback" not in run.stderr, run.stderr
    entry = json.loads((tmp_path / "out" / "report.json").read_text())["targets"][0]
    assert entry["verdict"] == "failed"
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert page.endswith("</html>") and "sku-\\ud800" in page
    examples = (tmp_path / "out" / entry["dir"] / "examples.html").read_text(encoding="utf-8")
    assert "sku-\\ud800" in examples


def test_compare_refuses_a_url_target_whose_first_answer_is_hostile(hostile, tmp_path):
    # compare's first read of a url: target (is it empty?) is bounded like the checker's.
    hostile.plan = ("exact", 200, DEEP, False)
    run = racelab("compare", "--targets", f"url:{hostile.url}", "--out", str(tmp_path / "run"))
    assert "Traceback" not in run.stderr, run.stderr
    assert (
        "answered no list of orders (got a body nested too deeply to read)"
        in run.stdout + run.stderr
    )

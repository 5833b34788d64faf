"""One order shape, every judge of it agreeing: the OpenAPI document, the server, the checker.

shapes/order.py defines the order once; the OpenAPI schemas, the servers' request
validation and the checker's well-typed rule are derived from it. Each case is put to all
of them for real: the schema a live server serves, a body POSTed to that server, and store
files (store.json, store.db) the checker reads. A request's judges hold it to the body's
bounds; a stored order's judges hold it to its types only (a stored qty of 0 is still an
order the store holds, and the checker must count it).
"""

import contextlib
import http.client
import json
import sqlite3
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
from builders import CREATED, write_json_store
from live import in_process

from checker.orders import Snapshot
from checker.sql_store import read_tables
from checker.stores import read_store

MISSING = object()  # a field left out
SQLITE_VALUES = (type(None), int, float, str)  # SQLite would store true as 1, and no list
GOOD = {"sku": "sku-1", "qty": 1, "token": "good"}

# (case, changes to a good body, a request's judges take it, a stored order's judges take it)
CASES = [
    ("good", {}, True, True),
    ("qty 100 and a 64-character token", {"qty": 100, "token": "A-z_.:9" * 9 + "x"}, True, True),
    ("a 64-character sku", {"sku": "s" * 64}, True, True),  # unknown (404), not invalid
    ("sku a number", {"sku": 5}, False, False),
    ("sku null", {"sku": None}, False, False),
    ("sku missing", {"sku": MISSING}, False, False),
    ("qty a string", {"qty": "1"}, False, False),
    ("qty 1.5", {"qty": 1.5}, False, False),
    ("qty 1.0", {"qty": 1.0}, False, False),
    ("qty true", {"qty": True}, False, False),
    ("qty missing", {"qty": MISSING}, False, False),
    ("token a number", {"token": 7}, False, False),
    ("token a list", {"token": ["t"]}, False, False),
    ("token missing", {"token": MISSING}, False, False),
    ("qty 0", {"qty": 0}, False, True),
    ("qty 101", {"qty": 101}, False, True),
    ("qty -1", {"qty": -1}, False, True),
    ("an empty sku", {"sku": ""}, False, True),
    ("a 65-character sku", {"sku": "s" * 65}, False, True),
    ("an empty token", {"token": ""}, False, True),
    ("a token with a space", {"token": "a b"}, False, True),
    ("a token ending in a newline", {"token": "t\n"}, False, True),
    ("a 65-character token", {"token": "t" * 65}, False, True),
    ("an unknown field", {"note": "x"}, False, True),  # a store may keep more
]
# What only a stored order has: its id and created_at.
STORED_ONLY = [
    ("id a string", {"id": "1"}),
    ("id null", {"id": None}),
    ("id true", {"id": True}),
    ("created_at a number", {"created_at": 1}),
    ("created_at missing", {"created_at": MISSING}),
]


def changed(fields: dict, changes: dict) -> dict:
    """Return fields with changes made (MISSING: the field left out)."""
    merged = fields | changes
    return {name: value for name, value in merged.items() if value is not MISSING}


def stored(changes: dict, token: str = "good") -> dict:
    """Return a stored order: a good one, changed."""
    base = {"id": 1, **GOOD, "token": token, "created_at": CREATED}
    return changed(base, changes)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Serve a SQLite store from this process on a loopback port; yield its base URL."""
    with in_process(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="module")
def served_schemas(server) -> dict:
    """Return validators of the NewOrder and Order schemas the server serves."""
    status, doc = exchange(server, "GET", "/openapi.json")
    assert status == 200
    # OpenAPI 3.0's schemas are JSON Schema draft 4's dialect (1.0 is not an integer there).
    return {
        name: jsonschema_rs.Draft4Validator(
            {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
        )
        for name in ("NewOrder", "Order")
    }


def exchange(url: str, method: str, path: str, body=None) -> tuple[int, dict]:
    """Send one request; return its status and JSON answer."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, data, {"Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


@pytest.mark.parametrize(("changes", "taken"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_the_served_schema_and_the_server_judge_a_body_alike(server, served_schemas, changes,
                                                              taken):  # fmt: skip
    body = changed(GOOD, changes)
    status, answer = exchange(server, "POST", "/orders", body)
    refused = status == 400 and answer["error"] == "invalid"
    assert (not refused, served_schemas["NewOrder"].is_valid(body)) == (taken, taken), answer


@pytest.mark.parametrize(
    ("changes", "well_typed"),
    [(c[1], c[3]) for c in CASES] + [(c[1], False) for c in STORED_ONLY],
    ids=[c[0] for c in CASES + STORED_ONLY],
)
def test_the_order_schema_and_the_checker_judge_a_stored_order_alike(
    tmp_path, served_schemas, changes, well_typed
):
    order = stored(changes)
    json_store = write_json_store(tmp_path / "store.json", {"sku-1": 10}, [order], next_id=2)
    judged = {
        "schema": served_schemas["Order"].is_valid(order),
        "store.json": _kept(read_store(json_store)),
    }
    if all(type(value) in SQLITE_VALUES for value in order.values()):  # not true, nor a list
        db_path = _sqlite_store(tmp_path / "store.db", order)
        judged["store.db"] = _kept(read_store(db_path))
        judged["store.db, row by row"] = _kept(_read_row_by_row(db_path))
    assert judged == dict.fromkeys(judged, well_typed)


def _kept(snapshot) -> bool:
    """Say whether the checker read the one order as well-typed (else as malformed)."""
    assert len(snapshot.orders) + len(snapshot.malformed) == 1, snapshot
    return len(snapshot.orders) == 1


def _sqlite_store(path, order: dict):
    """Write store.db holding one order, each value of its own type."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER)")
        # No declared types: a TEXT column would store the number 5 as the text '5'.
        db.execute("CREATE TABLE orders (id, sku, qty, token, created_at)")
        db.execute("INSERT INTO items VALUES ('sku-1', 10)")
        columns = ("id", "sku", "qty", "token", "created_at")
        db.execute("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", [order.get(c) for c in columns])
    return path


def _read_row_by_row(path):
    """Read a store.db by the checker's careful path: every row asked in Python."""
    snapshot = Snapshot(str(path), backend="sqlite")
    with contextlib.closing(sqlite3.connect(path)) as db:
        read_tables(snapshot, db)
    return snapshot

"""The HTTP contract, for every backend and strategy, through Flask's test client: what each
route answers, and bad input's documented 4xx JSON error, which leaves the store unchanged."""

import contextlib
import json
import re
import sqlite3

import pytest

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def order(client, token="t1", sku="sku-1", qty=2):
    """POST an order and return the response."""
    return client.post("/orders", json={"sku": sku, "qty": qty, "token": token})


def stock(client, sku="sku-1") -> int:
    """Return an item's stock."""
    return {i["sku"]: i["stock"] for i in client.get("/items").get_json()["items"]}[sku]


def test_health_names_backend_and_strategy(client, target):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "backend": target[0], "strategy": target[1]}


def test_items_lists_the_seeded_stock(client):
    assert client.get("/items").get_json() == {
        "items": [{"sku": f"sku-{n}", "stock": 10} for n in (1, 2, 3)]
    }


def test_create_returns_the_order_and_takes_stock(client):
    response = order(client, "tok-1", "sku-2", 3)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "sku", "qty", "token", "created_at"}
    assert (body["sku"], body["qty"], body["token"]) == ("sku-2", 3, "tok-1")
    assert isinstance(body["id"], int) and ISO_UTC.fullmatch(body["created_at"])
    assert stock(client, "sku-2") == 7


def test_a_known_token_replays_the_stored_order(client):
    first = order(client, "same").get_json()
    replay = order(client, "same", qty=5)
    assert replay.status_code == 200
    assert replay.get_json() == first
    assert stock(client) == 8
    assert len(client.get("/orders").get_json()["orders"]) == 1


def test_ids_are_distinct_and_increasing(client):
    ids = [order(client, f"t{n}", qty=1).get_json()["id"] for n in range(4)]
    assert ids == sorted(set(ids))


def test_out_of_stock_is_409_and_takes_nothing(client):
    order(client, "a", qty=9)
    response = order(client, "b", qty=2)
    assert response.status_code == 409
    assert response.get_json()["error"] == "out_of_stock"
    assert response.get_json()["message"] == "Only 1 of 'sku-1' left; 2 were asked for."
    assert stock(client) == 1


def test_unknown_sku_is_404(client):
    response = order(client, sku="nope")
    assert response.status_code == 404
    assert response.get_json()["error"] == "unknown_sku"
    assert "nope" in response.get_json()["message"]


def test_list_orders_pages_by_id(client):
    ids = [order(client, f"t{n}", qty=1).get_json()["id"] for n in range(5)]
    page = client.get(f"/orders?limit=2&after_id={ids[1]}").get_json()["orders"]
    assert [o["id"] for o in page] == ids[2:4]
    assert [o["id"] for o in client.get("/orders").get_json()["orders"]] == ids


def test_get_order_and_not_found(client):
    created = order(client).get_json()
    assert client.get(f"/orders/{created['id']}").get_json() == created
    missing = client.get("/orders/999")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "not_found"


def test_cancel_deletes_and_returns_stock(client):
    created = order(client, qty=4).get_json()
    response = client.delete(f"/orders/{created['id']}")
    assert response.status_code == 204 and response.data == b""
    assert stock(client) == 10
    assert client.get(f"/orders/{created['id']}").status_code == 404
    again = client.delete(f"/orders/{created['id']}")
    assert again.status_code == 404 and again.get_json()["error"] == "not_found"


def test_ids_are_not_reused_after_cancelling_the_last(client):
    first = order(client, "a", qty=1).get_json()["id"]
    client.delete(f"/orders/{first}")
    assert order(client, "b", qty=1).get_json()["id"] != first


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/nowhere", 404, "not_found"),
        ("get", "/orders/abc", 404, "not_found"),
        ("put", "/orders", 405, "method_not_allowed"),
        ("post", "/items", 405, "method_not_allowed"),
        ("patch", "/orders/1", 405, "method_not_allowed"),
    ],
)
def test_unknown_routes_and_methods_answer_json(client, method, path, status, code):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.is_json and response.get_json()["error"] == code
    assert response.get_json()["message"]


def test_openapi_describes_every_route(client):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/health",
        "/items",
        "/orders",
        "/orders/{order_id}",
        "/shifts",
        "/shifts/{shift}/leave",
        "/openapi.json",
    }
    assert set(doc["paths"]["/orders"]) == {"get", "post"}
    assert set(doc["paths"]["/orders/{order_id}"]) == {"parameters", "get", "delete"}


@pytest.mark.parametrize("target", [("sqlite", "naive")], indirect=True)
def test_a_naive_write_that_cannot_get_the_lock_answers_busy_and_writes_nothing(client, tmp_path):
    # Another connection holds the write lock past naive's 5 s wait (load did this, and
    # naive answered 500 with a traceback in its log).
    with contextlib.closing(sqlite3.connect(tmp_path / "store.db", isolation_level=None)) as db:
        db.execute("BEGIN IMMEDIATE")
        response = order(client, "locked-out")
        db.execute("ROLLBACK")
    assert response.status_code == 503
    assert response.get_json() == {"error": "busy", "message": "The database was locked for 5 s."}
    assert stock(client) == 10 and client.get("/orders").get_json()["orders"] == []


# Bad input: its documented 4xx JSON error, and the store unchanged.

GOOD = {"sku": "sku-1", "qty": 1, "token": "t-1"}
JSON = "application/json"

BAD_BODIES = [
    ("malformed JSON", b'{"sku": "sku-1", "qty": 1,', JSON, 400, "invalid"),
    ("truncated JSON", b'{"sku": "sk', JSON, 400, "invalid"),
    ("not an object", b"[1, 2, 3]", JSON, 400, "invalid"),
    ("a bare string", b'"order"', JSON, 400, "invalid"),
    ("empty body", b"", JSON, 400, "invalid"),
    ("invalid UTF-8", b'{"sku": "\xff\xfe"}', JSON, 400, "invalid"),
    ("wrong content type", json.dumps(GOOD).encode(), "text/plain", 415, "unsupported_media_type"),
    ("no content type", json.dumps(GOOD).encode(), None, 415, "unsupported_media_type"),
    ("1 MiB body", b'{"sku": "' + b"x" * (1 << 20) + b'"}', JSON, 413, "too_large"),
    ("nested 20000 deep", b"[" * 20000 + b"]" * 20000, JSON, 400, "invalid"),
    ("UTF-16", json.dumps(GOOD).encode("utf-16"), JSON, 400, "invalid"),
    ("a lone surrogate sku", b'{"sku": "\\ud800", "qty": 1, "token": "t-1"}', JSON, 400, "invalid"),
]

BAD_FIELDS = [
    ("qty 0", {**GOOD, "qty": 0}),
    ("qty -1", {**GOOD, "qty": -1}),
    ("qty 10**9", {**GOOD, "qty": 10**9}),
    ("qty as string", {**GOOD, "qty": "1"}),
    ("qty as float", {**GOOD, "qty": 1.5}),
    ("qty true", {**GOOD, "qty": True}),
    ("qty null", {**GOOD, "qty": None}),
    ("sku as number", {**GOOD, "sku": 7}),
    ("empty sku", {**GOOD, "sku": ""}),
    ("empty token", {**GOOD, "token": ""}),
    ("65-char token", {**GOOD, "token": "a" * 65}),
    ("unicode token", {**GOOD, "token": "tök€n"}),
    ("SQL in token", {**GOOD, "token": "x'; DROP TABLE orders; --"}),
    ("path in token", {**GOOD, "token": "../../etc/passwd"}),
    ("token as list", {**GOOD, "token": ["a"]}),
    ("missing qty", {"sku": "sku-1", "token": "t"}),
    ("missing token", {"sku": "sku-1", "qty": 1}),
    ("unknown field", {**GOOD, "price": 3}),
]


def snapshot(store_file) -> bytes:
    """Return the store's bytes (the JSON file, or the SQLite or PostgreSQL rows)."""
    if store_file.suffix == ".json":
        return store_file.read_bytes()
    if store_file.suffix == ".url":
        import psycopg

        with psycopg.connect(store_file.read_text()) as db:
            tables = ("items", "orders")
            rows = [db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables]
            return repr(rows).encode()
    import sqlite3

    with sqlite3.connect(store_file) as db:
        return repr(
            [db.execute(f"SELECT * FROM {t}").fetchall() for t in ("items", "orders")]
        ).encode()


@pytest.mark.parametrize(
    ("case", "body", "content_type", "status", "code"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES]
)
def test_bad_bodies(client, store_file, case, body, content_type, status, code):
    before = snapshot(store_file)
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/orders", data=body, headers=headers)
    assert response.status_code == status
    assert response.get_json()["error"] == code
    assert response.get_json()["message"].endswith(".")
    assert snapshot(store_file) == before


@pytest.mark.parametrize(("case", "body"), BAD_FIELDS, ids=[c[0] for c in BAD_FIELDS])
def test_bad_fields(client, store_file, case, body):
    before = snapshot(store_file)
    response = client.post("/orders", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid"
    assert snapshot(store_file) == before


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=x",
        "limit=-1",
        "after_id=x",
        "after_id=-3",
        "limit=1.5",
        "limit=",
    ],
)
def test_bad_list_arguments(client, query):
    response = client.get(f"/orders?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid"


def test_a_server_failure_names_no_internals_and_logs_them(client, store_file, caplog):
    if store_file.suffix == ".url":  # a database: its table is gone
        import psycopg

        with psycopg.connect(store_file.read_text(), autocommit=True) as db:
            db.execute("DROP TABLE items CASCADE")
    else:
        store_file.write_bytes(b"{ not a store")  # the store itself is broken: a real 500
    response = client.get("/items")
    assert response.status_code == 500
    assert response.get_json() == {
        "error": "internal",
        "message": "The server failed; its log says why.",
    }
    assert any(r.name == "racelab.server" and r.exc_info for r in caplog.records)

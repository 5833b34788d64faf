"""Bad input gets its documented 4xx JSON error and leaves the store unchanged."""

import json

import pytest

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

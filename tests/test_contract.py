"""The HTTP contract, for every backend and strategy, through Flask's test client."""

import contextlib
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

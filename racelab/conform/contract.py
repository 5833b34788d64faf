"""The named rules of docs/contract.md, in the order `racelab conform` runs them."""

from collections.abc import Callable
from typing import NamedTuple, cast

from racelab.conform.rules import (
    ContractBroken,
    State,
    create,
    expect,
    expect_error,
    is_order,
    made,
    stock,
)


def health(state: State) -> None:
    body = expect(state.client.send("GET", "/health"), 200, "GET /health answers 200")
    if not isinstance(body, dict) or body.get("status") != "ok":
        raise ContractBroken('GET /health answers {"status": "ok", ...}', state.client.last)


def items(state: State) -> None:
    found = stock(state)
    good = {k: v for k, v in found.items()
            if isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)}  # fmt: skip
    if not found or len(good) != len(found):
        raise ContractBroken(
            "GET /items lists at least one {sku: str, stock: int}", state.client.last
        )
    in_stock = [sku for sku, n in good.items() if n >= 1]
    if not in_stock:
        raise ContractBroken("some sku has stock left, so orders can be made (start it fresh)")
    state.sku = in_stock[0]


def create_order(state: State) -> None:
    before = stock(state)[state.sku]
    token = state.token()
    exchange = create(state, state.sku, 1, token)
    expect(exchange, 201, "POST /orders with a new token answers 201 and the order")
    if not is_order(exchange.body, state.sku, 1, token):
        raise ContractBroken(
            "the 201 body is {id: int, sku, qty, token as sent, created_at: str}", exchange
        )
    state.order = cast(dict, exchange.body)  # is_order, above
    after = stock(state)[state.sku]
    if after != before - 1:
        raise ContractBroken(
            f"stock of {state.sku} goes from {before} to {before - 1} (it is {after})"
        )


def replay(state: State) -> None:
    order = _need_order(state)
    before = stock(state)[state.sku]
    exchange = create(state, order["sku"], order["qty"], order["token"])
    body = expect(exchange, 200, "POST /orders with a known token answers 200, not a new order")
    if not isinstance(body, dict) or body.get("id") != order["id"]:
        raise ContractBroken(f"the replay answers the stored order, id {order['id']}", exchange)
    if stock(state)[state.sku] != before:
        raise ContractBroken("a replay takes no stock")


def get_order(state: State) -> None:
    order = _need_order(state)
    exchange = state.client.send("GET", f"/orders/{order['id']}")
    if expect(exchange, 200, "GET /orders/<id> answers 200 and the order") != order:
        raise ContractBroken("GET /orders/<id> answers the order as it was created", exchange)


def list_orders(state: State) -> None:
    order = _need_order(state)
    start = order["id"] - 1
    body = expect(state.client.send("GET", f"/orders?limit=1000&after_id={start}"), 200,
                  "GET /orders answers 200")  # fmt: skip
    listed = body.get("orders") if isinstance(body, dict) else None
    if not isinstance(listed, list) or order not in listed:
        raise ContractBroken('GET /orders lists {"orders": [...]} with the order just made',
                     state.client.last)  # fmt: skip
    _require_page(listed, start, 1000, state)


def paging(state: State) -> None:
    first = len(state.made)
    for _ in range(3):
        expect(create(state, state.sku, 1), 201, "POST /orders answers 201")
    ids = state.made[first:]
    page = _page(state, 2, ids[0] - 1)
    if [o.get("id") for o in page] != ids[:2]:
        raise ContractBroken(
            f"limit=2&after_id={ids[0] - 1} lists ids {ids[:2]}", state.client.last
        )
    page = _page(state, 2, ids[1])
    if not page or page[0].get("id") != ids[2]:
        raise ContractBroken(f"after_id={ids[1]} starts at id {ids[2]}", state.client.last)


def bad_paging(state: State) -> None:
    for query in ("limit=0", "limit=1001", "limit=x", "after_id=-1", "after_id=1.5"):
        expect_error(state.client.send("GET", f"/orders?{query}"), 400, "invalid",
                     f"GET /orders?{query} answers")  # fmt: skip


def cancel(state: State) -> None:
    order = _need_order(state)
    before = stock(state)[state.sku]
    exchange = state.client.send("DELETE", f"/orders/{order['id']}")
    if exchange.status != 204:
        raise ContractBroken("DELETE /orders/<id> answers 204", exchange)
    state.made.remove(order["id"])
    if stock(state)[state.sku] != before + order["qty"]:
        raise ContractBroken(f"a cancel gives the qty back: stock {before} + {order['qty']}")
    expect_error(state.client.send("GET", f"/orders/{order['id']}"), 404, "not_found",
                 "GET of a cancelled order answers")  # fmt: skip
    expect_error(state.client.send("DELETE", f"/orders/{order['id']}"), 404, "not_found",
                 "a second DELETE answers")  # fmt: skip


def invalid_bodies(state: State) -> None:
    sku = state.sku
    bodies = [{"sku": sku, "qty": 1}, {"sku": sku, "qty": 1, "token": state.token(), "x": 1},
              {"sku": sku, "qty": 0, "token": state.token()},
              {"sku": sku, "qty": 101, "token": state.token()},
              {"sku": sku, "qty": "1", "token": state.token()},
              {"sku": sku, "qty": True, "token": state.token()},
              {"sku": sku, "qty": 1, "token": "has space"}, [sku, 1]]  # fmt: skip
    for body in bodies:
        expect_error(_post(state, body), 400, "invalid", "a malformed order answers")
    expect_error(state.client.send("POST", "/orders", raw=b"{not json"), 400, "invalid",
                 "a body that is not JSON answers")  # fmt: skip


def unknown_sku(state: State) -> None:
    expect_error(create(state, "no-such-sku-racelab", 1), 404, "unknown_sku",
                 "an order for a sku not sold answers")  # fmt: skip


def out_of_stock(state: State) -> None:
    sku, left = min(((k, v) for k, v in stock(state).items() if isinstance(v, int)),
                    key=lambda kv: kv[1])  # fmt: skip
    for _ in range(60):  # drain the emptiest sku, 100 at a time; cancelled at the end
        if left < 100:
            break
        expect(create(state, sku, 100), 201, "POST /orders answers 201 while stock is left")
        left -= 100
    else:
        raise ContractBroken(
            f"{sku} still has {left} after 60 orders of 100: start it with less stock"
        )
    expect_error(create(state, sku, left + 1), 409, "out_of_stock",
                 f"an order for {left + 1} of {sku} with {left} left answers")  # fmt: skip


def media_type(state: State) -> None:
    form = state.client.send("POST", "/orders", raw=b"sku=sku-1&qty=1",
                             content_type="application/x-www-form-urlencoded")  # fmt: skip
    expect_error(form, 415, "unsupported_media_type", "a body not sent as application/json answers")


def too_large(state: State) -> None:
    exchange = state.client.send("POST", "/orders", raw=b" " * (64 * 1024 + 1))
    state.client.close()  # a server may close a connection whose body it did not read
    expect_error(exchange, 413, "too_large", "a body over 64 KiB answers")


def unknown_route(state: State) -> None:
    expect_error(state.client.send("GET", "/no-such-route"), 404, "not_found",
                 "a path not in the contract answers")  # fmt: skip
    expect_error(state.client.send("PUT", "/orders"), 405, "method_not_allowed",
                 "a method not in the contract answers")  # fmt: skip


def _post(state: State, body):
    """POST any body; an order it made by mistake is still cancelled at the end."""
    exchange = state.client.send("POST", "/orders", body)
    made(state, exchange)
    return exchange


def _need_order(state: State) -> dict:
    if state.order is None:
        raise ContractBroken("an order made by create (which failed)")
    return state.order


def _page(state: State, limit: int, after: int) -> list:
    body = expect(state.client.send("GET", f"/orders?limit={limit}&after_id={after}"), 200,
                  "GET /orders answers 200")  # fmt: skip
    listed = body.get("orders") if isinstance(body, dict) else None
    if not isinstance(listed, list):
        raise ContractBroken('GET /orders answers {"orders": [...]}', state.client.last)
    _require_page(listed, after, limit, state)
    return listed


def _require_page(listed: list, after: int, limit: int, state: State) -> None:
    ids = [o.get("id") if isinstance(o, dict) else None for o in listed]
    if len(ids) > limit or any(not isinstance(i, int) or i <= after for i in ids):
        raise ContractBroken(f"at most {limit} orders, every id above after_id={after}",
                     state.client.last)  # fmt: skip
    if ids != sorted(cast(list[int], ids)):  # every one an int, above
        raise ContractBroken("orders listed by id", state.client.last)


class Rule(NamedTuple):
    """One rule of the contract: how it is checked, and what it says."""

    fn: Callable
    says: str


# The one list of rules; the report, the docs' table and the tests follow it.
RULES = {
    "health": Rule(health, 'GET /health answers 200 {"status": "ok"}'),
    "items": Rule(items, "GET /items lists every sku with its stock"),
    "create": Rule(create_order, "POST /orders with a new token answers 201 and takes the stock"),
    "replay": Rule(replay, "a known token answers 200 and the stored order, taking nothing"),
    "get": Rule(get_order, "GET /orders/<id> answers the order"),
    "list": Rule(list_orders, "GET /orders lists orders by id, ids above after_id"),
    "paging": Rule(paging, "limit and after_id page through the orders"),
    "bad-paging": Rule(bad_paging, "a limit or after_id out of range answers 400 invalid"),
    "cancel": Rule(cancel, "DELETE answers 204 and gives the stock back; the order is gone"),
    "invalid": Rule(invalid_bodies, "a malformed order answers 400 invalid"),
    "unknown-sku": Rule(unknown_sku, "an unknown sku answers 404 unknown_sku"),
    "out-of-stock": Rule(out_of_stock, "an order for more than is left answers 409 out_of_stock"),
    "media-type": Rule(media_type, "a body that is not JSON's media type answers 415"),
    "too-large": Rule(too_large, "a body over 64 KiB answers 413 too_large"),
    "errors": Rule(unknown_route, "other paths answer 404, other methods 405, as JSON errors"),
}

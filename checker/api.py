"""Read a server's final state through the contract: /items, every page of /orders, /shifts.

This is the black-box mode, for a server in any language: only what the API answers is
known. A server that lies in its reads can hide anomalies from it (as from Jepsen), and
damage behind a server that still answers (a torn file) cannot be seen at all, so that
check is reported as not run, never as held.
"""

import http.client
import sys
from typing import TypeGuard
from urllib.parse import urlsplit

from checker.orders import Orders, Snapshot
from checker.untrusted import BadAnswer, fetch, parse_json, printable
from racelab.exceptions import RunFailed
from shapes import is_order

PAGE = 1000  # the contract's largest limit
READ_TIMEOUT_S = 30.0  # for each answer, whole: a server that drips it is cut off at this
MAX_PAGES = 20_000  # 20M orders: a server that never stops paging is not read forever


class Unreadable(RunFailed):
    """The final state could not be read: the reason, naming the request."""


def is_url(store) -> bool:
    """Say whether a store argument names a server (read through the API) rather than a file."""
    return isinstance(store, str) and store.startswith(("http://", "https://"))


def read_api(url: str, existing=frozenset(), timeout: float = READ_TIMEOUT_S) -> Snapshot:
    """Read the items and every order through the API; on failure say so, reading nothing.

    existing: orders (as (id, sku, qty, token), or a malformed one's repr) that were there
    before the run began, left out so that they do not count as this run's. timeout:
    seconds each read may take before the state counts as unreadable.
    """
    snapshot = Snapshot(url.rstrip("/"), backend="api")
    try:
        with _Reader(url, timeout) as reader:
            items = _items(reader.get_json("/items"))
            orders, malformed = _orders(reader)
            shifts = _shifts(reader.get_json("/shifts", missing=None))
    except Unreadable as e:
        snapshot.unreadable = f"final state unreadable: {e}"
        return snapshot
    snapshot.items = items
    snapshot.orders = Orders.from_tuples([o for o in orders if o not in existing])
    snapshot.malformed = [m for m in malformed if repr(m) not in existing]
    snapshot.shifts = shifts
    return snapshot


class _Reader:
    """One keep-alive connection to the server."""

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        https = parts.scheme == "https"
        kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
        self.prefix = parts.path.rstrip("/")
        self.conn = kind(parts.hostname or "", parts.port, timeout=timeout)
        self.timeout = timeout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.close()

    def get_json(self, path: str, missing=Unreadable):
        """GET path; return its JSON body (or `missing` on a 404, if given), or raise
        Unreadable naming what came back."""
        headers = {"Accept": "application/json"}
        try:
            status, raw = fetch(self.conn, "GET", self.prefix + path, headers=headers,
                                seconds=self.timeout)  # fmt: skip
        except BadAnswer as e:
            raise Unreadable(f"GET {path} got {e}") from None
        if status == 404 and missing is not Unreadable:
            return missing
        if status != 200:
            raise Unreadable(f"GET {path} answered {status} {_error_code(raw)}".strip())
        try:
            return parse_json(raw)
        except BadAnswer as e:
            raise Unreadable(f"GET {path} answered 200 with {e}") from None


def _error_code(raw: bytes) -> str:
    try:
        return printable(str(parse_json(raw).get("error", "")))[:40]
    except (BadAnswer, AttributeError):
        return ""


def _shifts(body) -> dict | None:
    """Return {shift: [doctor]} from GET /shifts (None: the server has no rota), or raise
    Unreadable."""
    if body is None:
        return None
    shaped = isinstance(body, list) and all(
        isinstance(s, dict) and isinstance(s.get("shift"), str)
        and isinstance(s.get("on_call"), list) and all(isinstance(d, str) for d in s["on_call"])
        for s in body
    )  # fmt: skip
    if not shaped:
        raise Unreadable(f"GET /shifts answered {body!r:.80}, not a list of {{shift, on_call}}")
    return {s["shift"]: list(s["on_call"]) for s in body}


def _items(body) -> dict:
    """Return {sku: stock} from GET /items, or raise Unreadable."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise Unreadable('GET /items answered without an "items" list')
    found = {}
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("sku"), str)
                and _is_int(item.get("stock"))):  # fmt: skip
            raise Unreadable(f"GET /items listed {item!r:.80}, not {{sku, stock}}")
        found[item["sku"]] = item["stock"]
    return found


def _orders(reader: _Reader) -> tuple[list, list]:
    """Page through GET /orders; return (well-formed order tuples, malformed orders)."""
    orders, malformed, after = [], [], 0
    seen_at_after = 0  # orders with id == after already taken from the previous page
    for _ in range(MAX_PAGES):
        # after_id is one below the last id seen, so two orders sharing an id across a page
        # boundary are both read (an id collision must not be hidden by paging).
        start = max(after - 1, 0)
        page = reader.get_json(f"/orders?limit={PAGE}&after_id={start}")
        listed = page.get("orders") if isinstance(page, dict) else None
        if not isinstance(listed, list):
            raise Unreadable(f'GET /orders?after_id={start} answered without an "orders" list')
        fresh = _past(listed, after, seen_at_after, start)
        for order in fresh:
            if is_order(order):
                orders.append((order["id"], sys.intern(order["sku"]), order["qty"], order["token"]))
            else:
                malformed.append(order)
        ids = [o["id"] for o in listed if isinstance(o, dict) and _is_int(o.get("id"))]
        if len(listed) < PAGE or not fresh or not ids:
            return orders, malformed
        after = max(ids)
        seen_at_after = sum(1 for i in ids if i == after)
    raise Unreadable(f"GET /orders did not end after {MAX_PAGES} pages")


def _past(listed: list, after: int, seen_at_after: int, start: int) -> list:
    """Return the orders of a page not taken yet: ids above after, and any further ones at it."""
    fresh, skipped = [], 0
    for order in listed:
        oid = order.get("id") if isinstance(order, dict) else None
        if _is_int(oid) and oid <= start:
            raise Unreadable(f"GET /orders?after_id={start} listed id {oid}, not above {start}")
        if after and oid == after and skipped < seen_at_after:
            skipped += 1  # read on the previous page
            continue
        if _is_int(oid) and oid < after:
            continue
        fresh.append(order)
    return fresh


def _is_int(value) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)

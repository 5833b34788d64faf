"""What one request got, typed as Jepsen types it: ok, fail, or info (unknown); and what a
read returned, as the history's answer fields (history/format.py, ANSWER_FIELDS).

The checker's stale-read check compares a read's answer fields with the writes acknowledged
before the read began. Only a well-shaped answer is recorded: a server that answers
something else leaves the read unrecorded (the check then has nothing to judge it by),
never a wrong record.
"""

import json
from dataclasses import dataclass


def classify_status(status: int) -> str:
    """Return the Jepsen type of an answered request: 2xx ok, 4xx fail, anything else info."""
    if 200 <= status < 300:
        return "ok"
    if 400 <= status < 500:
        return "fail"
    return "info"


@dataclass(slots=True)
class Outcome:
    """What one request got: status (None if no response), Jepsen type, body, cause."""

    status: int | None
    type: str
    body: object = None
    cause: str | None = None

    @property
    def retryable(self) -> bool:
        """Say whether a client would resend: a timeout or a reset, not an answer."""
        return self.status is None and self.type == "info"


def answered(status: int, raw: bytes, parse: bool) -> Outcome:
    """Return the outcome of a request that got an answer.

    The body is parsed only when asked (a create's answer carries the new id): parsing
    every list of orders would cost more than sending it.
    """
    return Outcome(
        status,
        classify_status(status),
        _json(raw) if parse else None,
        None if status < 400 else f"http {status}",
    )


def _json(raw: bytes):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def answer_fields(op: str, status: int | None, body, after_id: int, limit: int) -> dict:
    """Return what a read of op answered with status and a parsed body ({} for none known)."""
    if op == "get" and status == 404:
        return {"orders": []}  # not found: a read that saw no such order
    if status != 200:
        return {}
    shape = READERS.get(op)
    found = shape(body) if shape else None
    if found is None:
        return {}
    if op == "list":
        return {"orders": found, "after_id": after_id, "limit": limit}
    return {ANSWER_FIELD[op]: found}


def _orders(listed) -> list | None:
    """Return [[id, token], ...] for a list of orders, or None if one is not an order."""
    if not isinstance(listed, list):
        return None
    pairs = [_pair(order) for order in listed]
    return None if None in pairs else pairs


def _pair(order) -> list | None:
    if not isinstance(order, dict):
        return None
    oid, token = order.get("id"), order.get("token")
    if isinstance(oid, int) and not isinstance(oid, bool) and isinstance(token, str):
        return [oid, token]
    return None


def _one_order(body) -> list | None:
    pair = _pair(body)
    return None if pair is None else [pair]


def _listed_orders(body) -> list | None:
    return _orders(body.get("orders")) if isinstance(body, dict) else None


def _stock(body) -> dict | None:
    """Return {sku: stock} from GET /items, or None if it is not that shape."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return None
    found = {}
    for item in items:
        sku, stock = (item.get("sku"), item.get("stock")) if isinstance(item, dict) else (0, 0)
        if not isinstance(sku, str) or not isinstance(stock, int) or isinstance(stock, bool):
            return None
        found[sku] = stock
    return found


def _on_call(body) -> dict | None:
    """Return {shift: [doctor]} from GET /shifts, or None if it is not that shape."""
    if not isinstance(body, list):
        return None
    found = {}
    for entry in body:
        shift = entry.get("shift") if isinstance(entry, dict) else None
        doctors = entry.get("on_call") if isinstance(entry, dict) else None
        if not isinstance(shift, str) or not isinstance(doctors, list):
            return None
        if not all(isinstance(d, str) for d in doctors):
            return None
        found[shift] = doctors
    return found


READERS = {"get": _one_order, "list": _listed_orders, "items": _stock, "shifts": _on_call}
ANSWER_FIELD = {"get": "orders", "items": "stock", "shifts": "on_call"}

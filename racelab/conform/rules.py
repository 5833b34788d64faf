"""The contract as named rules: each sends real requests to a server and says pass or fail.

A rule raises ContractBroken with the request, the answer and what the contract wants.
Rules run in order and share what earlier ones made (an order, its id); every order a rule
makes is cancelled by the end, so the server is left with the stock it had.
"""

import http.client
import json
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from checker.untrusted import BadAnswer, fetch, parse_json, printable
from racelab.exceptions import RacelabError
from shapes import is_order as stored_order

TIMEOUT_S = 10.0


class ContractBroken(RacelabError):
    """A rule failed: what was sent, what came back, what the contract wants."""

    def __init__(self, want: str, exchange=None):
        super().__init__(want)
        self.want, self.exchange = want, exchange


@dataclass
class Exchange:
    """One request and its answer."""

    method: str
    path: str
    sent: object
    status: int | None
    body: object
    raw: bytes = b""
    why: str = ""  # what came instead of a whole answer

    def lines(self) -> list[str]:
        """Return 'sent: ...' and 'got: ...' for a report."""
        sent = "" if self.sent is None else f" {_short(self.sent)}"
        got = f"{self.status} {_short(self.body)}" if self.status else self.why or "no answer"
        return [f"sent: {self.method} {self.path}{sent}", f"got:  {got}"]


def _short(value) -> str:
    """Return value as one line of at most 160 characters, each one printable."""
    text = value if isinstance(value, str) else json.dumps(value)
    text = printable(text)  # a server's lone surrogate must not stop the report printing
    return text if len(text) <= 160 else text[:157] + "..."


class Client:
    """A keep-alive HTTP client that remembers its last exchange."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S):
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.conn = http.client.HTTPConnection(self.host or "", self.port, timeout=timeout)
        self.last: Exchange | None = None

    def send(self, method: str, path: str, body=None, raw: bytes | None = None,
             content_type: str = "application/json") -> Exchange:  # fmt: skip
        """Send one request; return the exchange (status None: no answer, and why)."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": content_type} if data is not None else {}
        why = ""
        try:  # read whole within the timeout and MAX_BYTES, or not at all (the next reconnects)
            status, answer = fetch(self.conn, method, path, data, headers, self.timeout)
        except BadAnswer as e:
            status, answer, why = None, b"", str(e)
        shown = body if raw is None else f"<{len(raw)} bytes>"
        self.last = Exchange(method, path, shown, status, _parsed(answer), answer, why)
        return self.last

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def _parsed(raw: bytes):
    """Return the JSON an answer holds; else its first bytes as text, or None for none."""
    if not raw:
        return None
    try:
        return parse_json(raw)
    except BadAnswer as e:
        return f"({e}) " + raw[:200].decode("utf-8", "replace")


@dataclass
class State:
    """What the rules share: the client, a token prefix, the orders made so far."""

    client: Client
    prefix: str = field(default_factory=lambda: f"conform-{uuid.uuid4().hex[:8]}")
    made: list = field(default_factory=list)  # ids of orders to cancel at the end
    count: int = 0
    order: dict | None = None  # the order `create` made
    sku: str = ""

    def token(self) -> str:
        """Return a token no earlier request used."""
        self.count += 1
        return f"{self.prefix}-{self.count}"


def expect(exchange: Exchange, status: int, want: str) -> object:
    """Return the answer's body if its status is status, or raise ContractBroken."""
    if exchange.status != status:
        raise ContractBroken(want, exchange)
    return exchange.body


def expect_error(exchange: Exchange, status: int, code: str, want: str) -> None:
    """Require an error answer: the status, and {"error": code, "message": a sentence}."""
    body = exchange.body
    if (exchange.status != status or not isinstance(body, dict) or body.get("error") != code
            or not isinstance(body.get("message"), str) or not body["message"]):  # fmt: skip
        raise ContractBroken(f'{want}: {status} {{"error": "{code}", "message": "..."}}', exchange)


def stock(state: State) -> dict:
    """Return {sku: stock} from GET /items."""
    body = expect(state.client.send("GET", "/items"), 200, "GET /items answers 200")
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(map(_is_item, items)):
        raise ContractBroken(
            'GET /items answers {"items": [{"sku": ..., "stock": ...}]}', state.client.last
        )
    return {i.get("sku"): i.get("stock") for i in items}


def _is_item(item) -> bool:
    return isinstance(item, dict) and isinstance(item.get("sku"), str)


def create(state: State, sku: str, qty: int, token: str | None = None) -> Exchange:
    """POST one order; remember its id so it is cancelled at the end."""
    exchange = state.client.send("POST", "/orders", {"sku": sku, "qty": qty,
                                                     "token": token or state.token()})  # fmt: skip
    made(state, exchange)
    return exchange


def made(state: State, exchange: Exchange) -> None:
    """Remember the id of an order an answer says was made, to cancel it at the end."""
    body = exchange.body
    if exchange.status == 201 and isinstance(body, dict) and _is_int(body.get("id")):
        state.made.append(body["id"])


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_order(body, sku: str, qty: int, token: str) -> bool:
    """Say whether body is the documented order (shapes.Order) for what was sent."""
    return stored_order(body) and (body["sku"], body["qty"], body["token"]) == (sku, qty, token)

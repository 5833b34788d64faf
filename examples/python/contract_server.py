"""A small server in plain Python (standard library only) that speaks docs/contract.md.

It keeps everything in memory behind one lock, so it holds under concurrent writes. It is
the reference for "bring your own server", and the tests start it with one rule broken at
a time (--break) to see `racelab conform` and `racelab check --url` catch exactly that:

  python examples/python/contract_server.py --port 3000 [--skus 10 --stock 1000]
"""

import argparse
import json
import re
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
BREAKS = {
    "drop-every-5th": "acknowledge every 5th new order with 201 but never store it",
    "reads-fail-after-writes": "answer GET /items and GET /orders with 500 once a write came in",
    "reads-hang-after-writes": "never answer GET /items and GET /orders once a write came in",
    "replay-creates": "answer a known token with 201 and a new order, not 200 and the stored one",
    "no-restock": "a cancel does not give the order's qty back",
    "html-errors": "answer an unknown path with an HTML page",
    "ignore-after-id": "ignore after_id when listing orders",
    "lose-races": "read stock, pause, write it back, with no lock (loses updates under load)",
}


class Store:
    """Items and orders in memory; one lock makes every write atomic."""

    def __init__(self, skus: int, stock: int, broken: set):
        self.items = {f"sku-{n}": stock for n in range(1, skus + 1)}
        self.orders: dict[int, dict] = {}
        self.by_token: dict[str, int] = {}
        self.next_id, self.creates = 1, 0
        self.lock = threading.Lock()
        self.broken = broken

    def create(self, sku: str, qty: int, token: str):
        """Return (status, body)."""
        if "lose-races" in self.broken:
            return self._create_racy(sku, qty, token)
        with self.lock:
            return self._create(sku, qty, token)

    def _create(self, sku, qty, token):
        self.creates += 1
        if token in self.by_token and "replay-creates" not in self.broken:
            return 200, self.orders[self.by_token[token]]
        if sku not in self.items:
            return 404, error("unknown_sku", f"sku {sku!r} is not sold here")
        if self.items[sku] < qty:
            return 409, error("out_of_stock", f"{sku} has {self.items[sku]} left, not {qty}")
        order = {"id": self.next_id, "sku": sku, "qty": qty, "token": token, "created_at": now()}
        self.next_id += 1
        if "drop-every-5th" in self.broken and order["id"] % 5 == 0:
            return 201, order  # acknowledged, never stored
        self.items[sku] -= qty
        self.orders[order["id"]] = order
        self.by_token[token] = order["id"]
        return 201, order

    def _create_racy(self, sku, qty, token):
        self.creates += 1
        if token in self.by_token:
            return 200, self.orders[self.by_token[token]]
        if sku not in self.items:
            return 404, error("unknown_sku", f"sku {sku!r} is not sold here")
        stock = self.items[sku]
        time.sleep(0.002)  # the window: another request reads the same stock
        if stock < qty:
            return 409, error("out_of_stock", f"{sku} has {stock} left, not {qty}")
        with self.lock:
            order = {"id": self.next_id, "sku": sku, "qty": qty, "token": token,
                     "created_at": now()}  # fmt: skip
            self.next_id += 1
            self.orders[order["id"]] = order
            self.by_token[token] = order["id"]
        self.items[sku] = stock - qty  # written back from a stale read
        return 201, order

    def cancel(self, order_id: int):
        """Return (status, body)."""
        with self.lock:
            order = self.orders.pop(order_id, None)
            if order is None:
                return 404, error("not_found", f"no order {order_id}")
            self.by_token.pop(order["token"], None)
            if "no-restock" not in self.broken:
                self.items[order["sku"]] += order["qty"]
            return 204, None

    def page(self, limit: int, after_id: int) -> list:
        """Return up to limit orders with ids above after_id, by id."""
        with self.lock:
            start = 0 if "ignore-after-id" in self.broken else after_id
            return [self.orders[i] for i in sorted(self.orders) if i > start][:limit]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error(code: str, message: str) -> dict:
    return {"error": code, "message": message}


def make_handler(store: Store):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet: a load sends thousands
            pass

        def send(self, status: int, body=None):
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):
            parts = urlsplit(self.path)
            if parts.path == "/health":
                return self.send(200, {"status": "ok", "backend": "python", "strategy": "lock"})
            if parts.path in ("/items", "/orders") and store.creates:
                if "reads-fail-after-writes" in store.broken:
                    return self.send(500, error("internal", "the store failed"))
                if "reads-hang-after-writes" in store.broken:
                    time.sleep(3600)
            if parts.path == "/items":
                items = [{"sku": k, "stock": v} for k, v in store.items.items()]
                return self.send(200, {"items": items})
            if parts.path == "/orders":
                return self.list_orders(parse_qs(parts.query))
            match = re.fullmatch(r"/orders/(\d+)", parts.path)
            if match:
                order = store.orders.get(int(match[1]))
                if order is None:
                    return self.send(404, error("not_found", f"no order {match[1]}"))
                return self.send(200, order)
            self.not_found()

        def list_orders(self, query: dict):
            try:
                limit = int(query.get("limit", ["100"])[0])
                after_id = int(query.get("after_id", ["0"])[0])
            except ValueError:
                return self.send(400, error("invalid", "limit and after_id must be whole numbers"))
            if not (1 <= limit <= 1000 and after_id >= 0):
                return self.send(400, error("invalid", "limit is 1..1000, after_id >= 0"))
            self.send(200, {"orders": store.page(limit, after_id)})

        def do_POST(self):
            if urlsplit(self.path).path != "/orders":
                return self.not_found()
            length = int(self.headers.get("Content-Length") or 0)
            if length > 4096:
                self.close_connection = True
                return self.send(413, error("too_large", f"a body of {length} bytes is too large"))
            raw = self.rfile.read(length)
            media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if media != "application/json":
                return self.send(415, error("unsupported_media_type", "send application/json"))
            body = parse_order(raw)
            if isinstance(body, str):
                return self.send(400, error("invalid", body))
            self.send(*store.create(body["sku"], body["qty"], body["token"]))

        def do_DELETE(self):
            match = re.fullmatch(r"/orders/(\d+)", urlsplit(self.path).path)
            if not match:
                return self.not_found()
            self.send(*store.cancel(int(match[1])))

        def method_not_allowed(self):
            self.send(405, error("method_not_allowed", f"{self.command} is not allowed here"))

        do_PUT = do_PATCH = method_not_allowed

        def not_found(self):
            if "html-errors" in store.broken:
                raw = b"<html><body>Not Found</body></html>"
                self.send_response(404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                return self.wfile.write(raw)
            self.send(404, error("not_found", f"no route {self.path!r}"))

    return Handler


def parse_order(raw: bytes):
    """Return the order body as a dict, or a sentence saying what is wrong with it."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "the body is not JSON"
    if not isinstance(body, dict) or set(body) != {"sku", "qty", "token"}:
        return "the body must be exactly {sku, qty, token}"
    sku, qty, token = body["sku"], body["qty"], body["token"]
    if not isinstance(sku, str) or not 1 <= len(sku) <= 64:
        return "sku must be 1-64 characters"
    if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= 100:
        return "qty must be an integer 1..100"
    if not isinstance(token, str) or not TOKEN.match(token):
        return "token must be 1-64 characters of [A-Za-z0-9_.:-]"
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--skus", type=int, default=10)
    parser.add_argument("--stock", type=int, default=1000)
    parser.add_argument("--break", dest="broken", action="append", default=[],
                        choices=sorted(BREAKS), help="break one rule on purpose")  # fmt: skip
    args = parser.parse_args()
    store = Store(args.skus, args.stock, set(args.broken))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(store))
    server.daemon_threads = True
    print(f"contract_server on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""A shop on the standard library's WSGI server, as a beginner writes it: data.json is read,
changed and written back, no lock. racelab_pause marks the read and the write, so `racelab
step --external` can put two orders between each other's:

    racelab step specs/last-item-oversold.toml --external \
        'wsgi-shop=python examples/pause/wsgi_shop.py --port {port} --data {data_dir}
         --skus {skus} --stock {stock}'
"""

import argparse
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from racelab_pause import WSGIMiddleware, pause


class Handler(WSGIRequestHandler):
    def log_request(self, *args):
        """Log nothing: every request would be a line."""


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def shop(file: Path):
    """Return the WSGI app serving the contract's order routes from file."""

    def app(environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        status, body = route(file, method, path, environ)
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return app


def route(file: Path, method: str, path: str, environ) -> tuple[str, object]:
    """Answer one request: (status line, JSON body)."""
    if (method, path) == ("GET", "/health"):
        return "200 OK", {"status": "ok", "backend": "wsgi", "strategy": "naive"}
    if (method, path) == ("GET", "/items"):
        items = json.loads(file.read_text())["items"]
        return "200 OK", {"items": [{"sku": k, "stock": v} for k, v in items.items()]}
    if (method, path) == ("GET", "/orders"):
        query = dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)
        after, limit = int(query.get("after_id", 0)), int(query.get("limit", 100))
        orders = [o for o in json.loads(file.read_text())["orders"] if o["id"] > after]
        return "200 OK", {"orders": sorted(orders, key=lambda o: o["id"])[:limit]}
    if (method, path) == ("POST", "/orders"):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        return create(file, json.loads(environ["wsgi.input"].read(size)))
    if method == "GET" and re.fullmatch(r"/orders/\d+", path):
        found = [o for o in json.loads(file.read_text())["orders"] if o["id"] == int(path[8:])]
        return ("200 OK", found[0]) if found else ("404 Not Found", {"error": "not_found"})
    return "404 Not Found", {"error": "not_found", "message": f"no route {method} {path}"}


def create(file: Path, order: dict) -> tuple[str, object]:
    """Store an order the naive way: read the whole file, change it, write it back."""
    pause("read")
    doc = json.loads(file.read_text())
    sku, qty = order["sku"], order["qty"]
    if doc["items"].get(sku, 0) < qty:
        return "409 Conflict", {"error": "out_of_stock", "message": f"{sku} has too few"}
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    stored = {"id": doc["next_id"], **order, "created_at": stamp}
    doc["next_id"] += 1
    doc["items"][sku] -= qty
    doc["orders"].append(stored)
    pause("write")
    file.write_text(json.dumps(doc))
    return "201 Created", stored


def main() -> None:
    """Seed data.json in --data if it has none, and serve on 127.0.0.1:--port."""
    parser = argparse.ArgumentParser()
    for name, default in (("--port", 3000), ("--skus", 10), ("--stock", 1000)):
        parser.add_argument(name, type=int, default=default)
    parser.add_argument("--data", type=Path, default=Path("data"))
    args = parser.parse_args()
    file = args.data / "data.json"
    if not file.exists():
        items = {f"sku-{n}": args.stock for n in range(1, args.skus + 1)}
        file.write_text(json.dumps({"next_id": 1, "items": items, "orders": []}))
    app = WSGIMiddleware(shop(file))
    make_server("127.0.0.1", args.port, app, Server, Handler).serve_forever()


if __name__ == "__main__":
    main()

"""The store.json document: its shape, and the pure operations on it."""

import msgspec

from servers.errors import NotFound, OutOfStock, StoreUnreadable, UnknownSku
from servers.storage import seed_items, utc_now

# msgspec, not the json module: a write under file-lock decodes and encodes the whole
# document while holding the lock, and msgspec does both 3-8x faster (docs/benchmarks.md).
# The bytes are the same as json.dumps(separators=(",", ":")) gives, except that text
# outside ASCII is written as UTF-8 rather than \u escapes: both are the same JSON.
_DECODER = msgspec.json.Decoder()
_ENCODER = msgspec.json.Encoder()


def new_document(skus: int, stock: int) -> dict:
    """Return a freshly seeded document."""
    return {"version": 0, "items": seed_items(skus, stock), "orders": [], "next_id": 1}


def decode(raw: bytes) -> dict:
    """Parse a document and check its top-level shape, or raise StoreUnreadable."""
    try:
        doc = _DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # either, on bad UTF-8
        raise StoreUnreadable(f"not valid JSON ({exc})") from None
    keys = {"version", "items", "orders", "next_id"}
    if not isinstance(doc, dict) or not keys <= set(doc):
        raise StoreUnreadable("not a racelab store (needs version, items, orders, next_id)")
    return doc


def encode(doc: dict) -> bytes:
    """Serialize a document in one piece: compact UTF-8 JSON, keys in insertion order."""
    return _ENCODER.encode(doc)


def find_by_token(doc: dict, token: str) -> dict | None:
    """Return the first stored order with this token."""
    return next((order for order in doc["orders"] if order["token"] == token), None)


def find_by_id(doc: dict, order_id: int) -> dict:
    """Return the stored order with this id, or raise NotFound."""
    for order in doc["orders"]:
        if order["id"] == order_id:
            return order
    raise NotFound(f"No order has id {order_id}.")


def add_order(doc: dict, sku: str, qty: int, token: str) -> tuple[dict, bool]:
    """Apply a create to doc; return (order, changed)."""
    existing = find_by_token(doc, token)
    if existing is not None:
        return existing, False
    if sku not in doc["items"]:
        raise UnknownSku(f"No item has sku {sku!r}.")
    if doc["items"][sku] < qty:
        raise OutOfStock(f"Only {doc['items'][sku]} of {sku!r} left; {qty} were asked for.")
    order = {"id": doc["next_id"], "sku": sku, "qty": qty, "token": token, "created_at": utc_now()}
    doc["next_id"] += 1
    doc["items"][sku] -= qty
    doc["orders"].append(order)
    return order, True


def remove_order(doc: dict, order_id: int) -> tuple[None, bool]:
    """Apply a cancel to doc; return (None, changed)."""
    order = find_by_id(doc, order_id)
    doc["orders"].remove(order)
    doc["items"][order["sku"]] = doc["items"].get(order["sku"], 0) + order["qty"]
    return None, True


def orders_after(doc: dict, limit: int, after_id: int) -> list[dict]:
    """Return up to limit orders with id > after_id, ordered by id."""
    return sorted((o for o in doc["orders"] if o["id"] > after_id), key=lambda o: o["id"])[:limit]

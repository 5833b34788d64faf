"""The store.json document: its shape, and the pure operations on it."""

import msgspec

from servers.errors import NotFound, OutOfStock, StoreUnreadable, UnknownSku
from servers.oncall import DOCTORS_DEFAULT, SHIFTS_DEFAULT, answer, decide, seed_shifts
from servers.storage import seed_items, utc_now
from shapes import Order  # one stored order, its fields in the order store.json writes them


class Leave(msgspec.Struct, gc=False):
    """One leave that happened, by its token: what a replay of the token is answered."""

    shift: str
    doctor: str
    on_call: list[str]


class Document(msgspec.Struct):
    """The whole store.json: decoded, changed and written back in one piece."""

    version: int
    items: dict[str, int]
    orders: list[Order]
    next_id: int
    # The on-call rota and the leaves taken from it (a store made before them has neither).
    shifts: dict[str, list[str]] = {}
    leaves: dict[str, Leave] = {}


# msgspec, not the json module: a write under file-lock decodes and encodes the whole
# document while holding the lock, and msgspec does both 3-8x faster than json, and typed
# (Order, not a dict) 1.5-1.7x faster again (docs/benchmarks.md). The bytes are the same as
# json.dumps(separators=(",", ":")) gives, except that text outside ASCII is written as
# UTF-8 rather than \u escapes: both are the same JSON.
_DECODER = msgspec.json.Decoder(Document)
_ENCODER = msgspec.json.Encoder()


def new_document(
    skus: int, stock: int, shifts: int = SHIFTS_DEFAULT, doctors: int = DOCTORS_DEFAULT
) -> Document:
    """Return a freshly seeded document."""
    return Document(version=0, items=seed_items(skus, stock), orders=[], next_id=1,
                    shifts=seed_shifts(shifts, doctors), leaves={})  # fmt: skip


def decode(raw: bytes) -> Document:
    """Parse a document and check its shape, or raise StoreUnreadable."""
    try:
        return _DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        raise StoreUnreadable(f"not a racelab store ({exc})") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # either, on bad UTF-8
        raise StoreUnreadable(f"not valid JSON ({exc})") from None


def from_plain(value) -> Document:
    """Check the shape of a document the json module decoded, or raise StoreUnreadable."""
    try:
        return msgspec.convert(value, Document)
    except msgspec.ValidationError as exc:
        raise StoreUnreadable(f"not a racelab store ({exc})") from None


def encode(doc: Document) -> bytes:
    """Serialize a document in one piece: compact UTF-8 JSON, fields in the documented order."""
    return _ENCODER.encode(doc)


def to_plain(doc: Document) -> dict:
    """Return the document as dicts and lists, for the json module to write."""
    return msgspec.to_builtins(doc)


def as_dict(order: Order) -> dict:
    """Return an order as the API answers it."""
    return msgspec.structs.asdict(order)


def find_by_token(doc: Document, token: str) -> Order | None:
    """Return the first stored order with this token."""
    return next((order for order in doc.orders if order.token == token), None)


def find_by_id(doc: Document, order_id: int) -> Order:
    """Return the stored order with this id, or raise NotFound."""
    for order in doc.orders:
        if order.id == order_id:
            return order
    raise NotFound(f"No order has id {order_id}.")


def add_order(doc: Document, sku: str, qty: int, token: str) -> tuple[dict, bool]:
    """Apply a create to doc; return (order, changed)."""
    existing = find_by_token(doc, token)
    if existing is not None:
        return as_dict(existing), False
    if sku not in doc.items:
        raise UnknownSku(f"No item has sku {sku!r}.")
    if doc.items[sku] < qty:
        raise OutOfStock.left(doc.items[sku], sku, qty)
    order = Order(id=doc.next_id, sku=sku, qty=qty, token=token, created_at=utc_now())
    doc.next_id += 1
    doc.items[sku] -= qty
    doc.orders.append(order)
    return as_dict(order), True


def remove_order(doc: Document, order_id: int) -> tuple[None, bool]:
    """Apply a cancel to doc; return (None, changed)."""
    order = find_by_id(doc, order_id)
    doc.orders.remove(order)
    doc.items[order.sku] = doc.items.get(order.sku, 0) + order.qty
    return None, True


def take_leave(doc: Document, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
    """Apply a leave to doc; return (answer, changed)."""
    done = doc.leaves.get(token)
    if done is not None:
        return answer(done.shift, done.on_call), False
    stays = decide(shift, doctor, doc.shifts.get(shift))
    doc.shifts[shift] = stays
    doc.leaves[token] = Leave(shift=shift, doctor=doctor, on_call=stays)
    return answer(shift, stays), True


def orders_after(doc: Document, limit: int, after_id: int) -> list[dict]:
    """Return up to limit orders with id > after_id, ordered by id."""
    after = sorted((o for o in doc.orders if o.id > after_id), key=lambda o: o.id)
    return [as_dict(o) for o in after[:limit]]

"""Read a store by the formats in docs/contract.md, recovering what a broken one still holds."""

import json
import re
import sys
from pathlib import Path

import msgspec

from checker.json_stream import streamed_store
from checker.oncall import document_shifts
from checker.orders import Orders, Snapshot, is_int
from checker.sql_store import is_postgres_store, read_postgres, read_sqlite
from shapes import Order, is_order

SQLITE_MAGIC = b"SQLite format 3\x00"
STORE_NAMES = ("store.json", "store.db")
ORDER_START = re.compile(r'\{\s*"id"\s*:')
# An order ends before the next one starts; one that does not (a value nested in it, or
# damage) is given the text up to this many further starts before it counts as unreadable.
REACH = 4


def resolve_store_path(path) -> Path | str:
    """Return the store file for a file or a data dir, or raise FileNotFoundError.

    A PostgreSQL store (a URL, or a data dir holding one) is returned as it was given.
    """
    if is_postgres_store(path):
        return path
    path = Path(path)
    if path.is_dir():
        found = [path / name for name in STORE_NAMES if (path / name).is_file()]
        if len(found) != 1:
            raise FileNotFoundError(f"{path} holds {len(found)} stores (store.json, store.db)")
        return found[0]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not a file")
    return path


def read_store(path, integrity: bool = True) -> Snapshot:
    """Read a store file, detecting its format from its first bytes (or a PostgreSQL store).

    integrity=False leaves SQLite's integrity check to the caller (sql_store.IntegrityCheck).
    """
    if is_postgres_store(path):
        snapshot = Snapshot(str(path), backend="postgres")
        read_postgres(path, snapshot)
        return snapshot
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head == SQLITE_MAGIC:
        return read_sqlite(path, integrity)
    return read_json(path)


def _compact_order(value: dict):
    """json object_hook: turn a well-formed order into an (id, sku, qty, token) tuple."""
    # At once, so a million orders never exist as a million dicts.
    if is_order(value):
        return (value["id"], sys.intern(value["sku"]), value["qty"], value["token"])
    return value


DECODER = json.JSONDecoder(object_hook=_compact_order)


def _add_order(snapshot: Snapshot, found: list, value) -> None:
    if is_order(value):
        found.append((value["id"], value["sku"], value["qty"], value["token"]))
    else:
        snapshot.malformed.append(value)


class _Document(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A well-formed store.json, with nothing else at its top level; each order's text is
    decoded apart, a batch at a time (_orders)."""

    version: int
    items: dict[str, int]
    orders: list[msgspec.Raw]
    next_id: int
    shifts: dict[str, list[str]] = {}  # the on-call rota, absent from older stores
    leaves: dict[str, dict] = {}


_WELL_FORMED = msgspec.json.Decoder(_Document)
_ORDERS = msgspec.json.Decoder(list[Order])  # the contract's order, other fields ignored
BATCH = 1 << 16  # orders decoded at a time: their structs are let go batch by batch


def _well_formed(raw: bytes) -> tuple | None:
    """Return (a store that is exactly the documented shape, its orders), read in typed
    passes at C speed.

    Anything else - damage, an ill-typed order, an extra key - returns None and takes the
    careful path below, which says what is wrong; on a well-formed file both agree.
    """
    try:
        doc = _WELL_FORMED.decode(raw)
        return doc, _orders(doc.orders)
    except (msgspec.DecodeError, UnicodeDecodeError):  # msgspec raises either on bad UTF-8
        return None


def _orders(texts: list) -> Orders:
    """Decode the orders' texts into columns, a batch at a time from the end (emptied as it
    goes), so that a million decoded orders never live at once (docs/benchmarks.md, 4)."""
    parts = []
    for start in reversed(range(0, len(texts), BATCH)):
        parts.append(Orders.from_structs(_ORDERS.decode(b"[%s]" % b",".join(texts[start:]))))
        del texts[start:]
    return Orders.joined_parts(parts[::-1])


def read_json(path, raw: bytes | None = None) -> Snapshot:
    """Read store.json (raw: its bytes, or None to read them here); salvage what is damaged."""
    # As racelab writes it, a block of orders at a time (checker/json_stream.py); else whole.
    read = streamed_store(path, raw, _WELL_FORMED, _ORDERS)
    if read is None:
        raw = Path(path).read_bytes() if raw is None else raw
        read = _well_formed(raw)
        if read is None:
            return read_json_carefully(path, raw)
    doc, orders = read
    snapshot = Snapshot(str(path), backend="json")
    snapshot.items = doc.items
    snapshot.shifts = doc.shifts
    snapshot.orders = orders
    return snapshot


def read_json_carefully(path, raw: bytes) -> Snapshot:
    """Read store.json value by value, saying what is wrong with it and keeping the rest."""
    snapshot = Snapshot(str(path), backend="json")
    if not raw.strip():
        snapshot.corruption = "the file is empty"
        return snapshot
    doc, snapshot.corruption = _decode_prefix(raw)
    found: list = []  # well-formed orders, as tuples (see _compact_order)
    if doc is None:
        _salvage_orders(snapshot, found, raw)
    else:
        _read_document(snapshot, found, doc)
    snapshot.orders = Orders.from_tuples(found)
    return snapshot


def _decode_prefix(raw: bytes):
    """Return (document or None, corruption or None), reading up to any trailing garbage."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"not UTF-8 at byte {e.start}"
    try:
        return DECODER.decode(text), None
    except RecursionError:
        return None, "nested too deeply to be a store"
    except ValueError as e:
        error = str(e)
    try:
        # A naive writer overwrote a longer document with a shorter one: what precedes the
        # old tail is a whole, valid document.
        doc, end = DECODER.raw_decode(text.lstrip())
    except (ValueError, RecursionError):
        return None, f"not valid JSON ({error})"
    return (
        doc,
        f"a valid document followed by {len(text.lstrip()) - end} bytes of garbage ({error})",
    )


def _read_document(snapshot: Snapshot, found: list, doc) -> None:
    if not isinstance(doc, dict):
        kind = "single order" if isinstance(doc, tuple) else type(doc).__name__
        snapshot.corruption = snapshot.corruption or f"the document is a {kind}"
        return
    problems = [key for key in ("version", "next_id") if not is_int(doc.get(key))]
    items = doc.get("items")
    if isinstance(items, dict) and all(is_int(v) for v in items.values()):
        snapshot.items = items
    else:
        problems.append("items")
    snapshot.shifts = document_shifts(doc)
    if snapshot.shifts is None:
        problems.append("shifts")
    orders = doc.get("orders")
    if isinstance(orders, list):
        for order in orders:
            # Well-formed orders arrive as tuples (see _compact_order); a JSON array never does.
            (found if type(order) is tuple else snapshot.malformed).append(order)
    else:
        problems.append("orders")
    if problems and snapshot.corruption is None:
        snapshot.corruption = f"not the documented shape: bad or missing {', '.join(problems)}"


def _salvage_orders(snapshot: Snapshot, found: list, raw: bytes) -> None:
    """Recover every whole order object from an unparseable file."""
    # Searched in the decoded text, so that an offset found is an offset decoded at: bytes
    # and characters part at the first non-ASCII one.
    text = raw.decode("utf-8", errors="replace")
    for start, ends in order_windows(text):
        value = _first_decoded(text, start, ends)
        if value is not None:
            _add_order(snapshot, found, value)


def order_windows(text: str) -> list[tuple[int, list[int]]]:
    """Return each order start in text with the ends of the spans to decode it from.

    Decoding at an offset of the whole text fails in time linear in that offset (the error
    counts the lines before it), so a damaged store was read in quadratic time; each span
    here reaches at most REACH starts further, so the text decoded is linear in its length.
    """
    starts = [m.start() for m in ORDER_START.finditer(text)]
    windows = []
    for i, start in enumerate(starts):
        ends = starts[i + 1 : i + 1 + REACH]
        windows.append((start, ends if len(ends) == REACH else [*ends, len(text)]))
    return windows


_PLAIN = json.JSONDecoder()


def _first_decoded(text: str, start: int, ends: list[int]):
    """Return the JSON value at start decoded from the shortest span that holds it, or None."""
    for end in ends:
        try:
            return _PLAIN.raw_decode(text[start:end])[0]
        except (ValueError, RecursionError):
            continue
    return None

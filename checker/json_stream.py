"""A well-formed store.json read a block of orders at a time, never whole in memory.

The document is split in three: its head up to the orders array, the array's text, and
its tail. The head and tail, with `[0]` for the array, must decode as the documented
document (checker/stores.py) whose orders hold exactly that one value: then the text
between is its orders array. That text is read a block at a time and cut before an order's
`{"id"`; each piece must decode as comma-separated well-formed orders. If every part
decodes, the whole file is the documented shape with exactly those orders; if any does
not (another writer's key order or spacing, damage), the caller reads the file whole.
"""

import io
import itertools
import re
from pathlib import Path

from checker.orders import Orders

EDGE = 1 << 20  # bytes of head (and of tail) searched for the orders array's bounds
BLOCK = 1 << 23  # bytes of the orders array read at a time
ORDERS_AT = re.compile(rb'"orders"\s*:\s*\[')
ORDER_START = b'{"id"'  # as racelab's servers and json.dumps write an order
ARRAY_END = re.compile(rb"(?:\}|^)\s*\]")
ENDS_TRIED = 8  # candidate ends of the array tried in the tail


def streamed_store(path, raw: bytes | None, documents, orders):
    """Return (the document without its orders, its Orders), or None when the file is not
    the documented shape as racelab writes it (the caller reads it whole then).

    raw: the file's bytes, or None to read path; documents and orders: msgspec decoders
    of the document and of a list of orders.
    """
    parts: list = []
    with io.BytesIO(raw) if raw is not None else open(Path(path), "rb") as source:
        document = stream_orders(source, documents, orders, parts)
    return None if document is None else (document, Orders.joined_parts(parts))


def stream_orders(source, documents, orders, parts):
    """Hand a store.json's orders, as Orders a block at a time, to parts.append; return the
    document without its orders, or None when it is not the documented shape (what parts
    was handed is then no store's: the caller drops it).

    source: the file, open for binary reading; parts: a list, or anything with append.
    """
    size = source.seek(0, io.SEEK_END)
    head = _read_at(source, 0, min(size, EDGE))
    found = ORDERS_AT.search(head)
    if found is None or head.count(b'"orders"') != 1:
        return None
    start = found.end()  # just past the array's "["
    document, end = _skeleton(source, size, head[:start], documents)
    if document is None or not _pieces(source, start, end, orders, parts):
        return None
    return document


def _read_at(source, offset: int, count: int) -> bytes:
    source.seek(offset)
    return source.read(count)


def _skeleton(source, size: int, head: bytes, documents) -> tuple:
    """Return (the document decoded with `[0]` for its orders, where the array ends), or
    (None, None) when none of the first few ends in the tail makes a documented document."""
    import msgspec  # noqa: PLC0415 - checker/stores.py imports it already

    base = max(len(head), size - EDGE)
    tail = _read_at(source, base, size - base)
    # The array ends at a "]" after its last order's "}" (or at once, if it is empty), most
    # likely the last such "]": what follows the orders is short, and a token may hold "}]".
    ends = list(ARRAY_END.finditer(tail))[::-1]
    for found in itertools.islice(ends, ENDS_TRIED):
        end = found.end() - 1
        after = tail[end + 1 :]
        if b'"orders"' in after:
            continue
        try:
            document = documents.decode(head[:-1] + b"[0]" + after)
        except (msgspec.DecodeError, UnicodeDecodeError):
            continue
        if len(document.orders) == 1:
            document.orders = []
            return document, base + end
    return None, None


def _pieces(source, start: int, end: int, orders, parts) -> bool:
    """Hand the orders between start and end to parts as Orders, a block at a time; say
    whether every piece was comma-separated well-formed orders."""
    source.seek(start)
    carry, at, handed = b"", start, 0
    while at < end:
        block = carry + source.read(min(BLOCK, end - at))
        at = source.tell()
        cut = block.rfind(ORDER_START) if at < end else len(block)
        if cut <= 0:  # no order starts in it after its first: read on
            carry = block
            continue
        piece, carry = block[:cut], block[cut:]
        if not _decoded(piece, at >= end and not carry, handed == 0, parts, orders):
            return False
        handed += 1
    return not carry or _decoded(carry, True, handed == 0, parts, orders)


def _decoded(piece: bytes, last: bool, first: bool, parts, orders) -> bool:
    """Decode a piece of the array (all but the last end in a comma) into parts (first:
    no piece was handed to it before)."""
    import msgspec  # noqa: PLC0415

    body = piece.rstrip()
    if not last:
        if not body.endswith(b","):
            return False
        body = body[:-1]
        if not body.strip():
            return False
    elif not first and not body.strip():
        return False
    try:
        parts.append(Orders.from_structs(orders.decode(b"[" + body + b"]")))
    except (msgspec.DecodeError, UnicodeDecodeError):
        return False
    return True

"""The history format, defined once: its fields, their defaults, and what makes a record valid.

The first record is the run record; every other record is one operation attempt.
See docs/contract.md ("History") for the field-by-field description.
"""

import math
from typing import Literal

import msgspec

from racelab.exceptions import BadInput

OPS = ("create", "cancel", "get", "list", "items", "leave", "shifts")
TYPES = ("ok", "fail", "info")
WRITE_OPS = ("create", "cancel")
READ_OPS = ("get", "list", "items", "shifts")
# Field -> the Python types it may take (None marks a nullable field), in the written order.
OP_FIELDS = {
    "op": (str,),
    "vu": (int, type(None)),
    "token": (str, type(None)),
    "sku": (str, type(None)),
    "qty": (int, type(None)),
    "order_id": (int, type(None)),
    "status": (int, type(None)),
    "type": (str,),
    "t0": (int, float),
    "t1": (int, float),
    "error": (str, type(None)),
    "attempt": (int,),
}
FIELD_NAMES = tuple(OP_FIELDS)  # what racelab load writes on every record, in this order
# A leave's (the on-call workload's) fields, read by every reader; null on other records.
OP_FIELDS |= {"shift": (str, type(None)), "doctor": (str, type(None))}
# What a read returned, when it is recorded (the stale-read check needs it); null when not.
# A get's or a list's orders as [id, token] pairs (a get answered 404: []), the page a list
# asked for, an items read's stock by sku, a shifts read's doctors on call by shift.
ANSWER_FIELDS = {
    "orders": (list, type(None)),
    "after_id": (int, type(None)),
    "limit": (int, type(None)),
    "stock": (dict, type(None)),
    "on_call": (dict, type(None)),
}
OP_FIELDS |= ANSWER_FIELDS
RECORD_FIELDS = tuple(OP_FIELDS)
# What the checker cannot do without; every other field may be left out (another tool's
# history, or one written by hand) and reads as its default.
REQUIRED = ("op", "type", "t0", "t1")
DEFAULTS = {name: None for name in RECORD_FIELDS if name not in REQUIRED} | {"attempt": 0}


class HistoryError(BadInput):
    """A history that cannot be read, with the line that broke it."""

    def __init__(self, path, lineno: int, reason: str):
        super().__init__(f"{path}: line {lineno}: {reason}")
        self.lineno = lineno


def with_defaults(record: dict) -> dict:
    """Return record's documented fields, each optional one it left out set to its default."""
    return {name: record.get(name, DEFAULTS.get(name)) for name in RECORD_FIELDS}


def validate_op(record) -> str | None:
    """Return why record (defaults filled in) is not a valid operation record, or None."""
    if not isinstance(record, dict):
        return "a record must be a JSON object"
    for name, types in OP_FIELDS.items():
        if name not in record and name in REQUIRED:
            return f"missing field {name!r}"
        value = record.get(name, DEFAULTS.get(name))
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"field {name!r} has the wrong type ({type(value).__name__})"
    if record["op"] not in OPS:
        return f"unknown op {record['op']!r}"
    if record["type"] not in TYPES:
        return f"unknown type {record['type']!r}"
    if not (_finite(record["t0"]) and _finite(record["t1"])):
        return "t0 and t1 must be finite numbers"
    return _unidentified(record) or _misshapen_answer(record)


def _finite(number) -> bool:
    """Say whether number is finite as a float (an int too large for one is not)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def _unidentified(record: dict) -> str | None:
    """Say what a write lacks to name its order: a create its token, a cancel token or id."""
    op, token = record["op"], record.get("token")
    if op in ("create", "leave") and token is None:
        return f"a {op} needs the token it sent"
    if op == "cancel" and token is None and record.get("order_id") is None:
        return "a cancel needs the token or the order_id of the order it cancelled"
    return None


def _misshapen_answer(record: dict) -> str | None:
    """Say which recorded answer is not the documented shape (what msgspec refuses too)."""
    orders, stock, on_call = (record.get(name) for name in ("orders", "stock", "on_call"))
    if orders is not None and not all(
        isinstance(pair, list) and len(pair) == 2 and _is_int(pair[0]) and isinstance(pair[1], str)
        for pair in orders
    ):
        return "field 'orders' must be a list of [id, token] pairs"
    if stock is not None and not all(_is_int(v) for v in stock.values()):
        return "field 'stock' must map sku to an integer"
    if on_call is not None and not all(
        isinstance(v, list) and all(isinstance(d, str) for d in v) for v in on_call.values()
    ):
        return "field 'on_call' must map shift to a list of doctors"
    return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_run(record) -> str | None:
    """Return why record is not a valid run record, or None."""
    if not isinstance(record, dict) or record.get("op") != "run":
        return 'the first record must be the run record ({"op": "run", ...})'
    items = record.get("items")
    if not isinstance(items, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in items.items()
    ):
        return "the run record's items must map sku to an integer stock"
    return None


ANSWER_TYPES = {
    "orders": list[tuple[int, str]] | None,
    "stock": dict[str, int] | None,
    "on_call": dict[str, list[str]] | None,
}


def _op_type(name: str, types: tuple):
    """Return the msgspec type of one field: its documented values, or its Python types."""
    if name in ("op", "type"):
        return Literal[OPS if name == "op" else TYPES]
    if name in ANSWER_TYPES:
        return ANSWER_TYPES[name]
    if types == (int, float):  # a JSON int reads as a float; msgspec refuses inf and NaN
        return float
    return types[0] if len(types) == 1 else types[0] | types[1]


# The operation record as a type, for reading at C speed (history.read): msgspec refuses any
# record this type cannot hold, and the careful validator above then says why.
Op = msgspec.defstruct(
    "Op",
    [(name, _op_type(name, OP_FIELDS[name])) for name in REQUIRED]
    + [(name, _op_type(name, OP_FIELDS[name]), DEFAULTS[name]) for name in DEFAULTS],
    gc=False,  # a record's containers are decoded JSON, never a cycle: nothing to collect
)


def op_from_dict(record: dict):
    """Return a valid record (defaults filled in) as an Op."""
    return Op(**{name: record[name] for name in RECORD_FIELDS})

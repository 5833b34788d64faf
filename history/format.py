"""The history format, defined once: its fields, their defaults, and what makes a record valid.

The first record is the run record; every other record is one operation attempt.
See docs/contract.md ("History") for the field-by-field description.
"""

import math
from typing import Annotated, Literal, get_args, get_type_hints

import msgspec
from msgspec import Meta

from racelab.exceptions import BadInput

Kind = Literal["create", "cancel", "get", "list", "items", "leave", "shifts"]
Outcome = Literal["ok", "fail", "info"]
# What a read returned, when it is recorded (the stale-read check needs it); null when not.
# A get's or a list's orders as [id, token] pairs (a get answered 404: []), the page a list
# asked for, an items read's stock by sku, a shifts read's doctors on call by shift. Each
# description finishes the careful reader's sentence "field 'orders' must ...".
Pairs = Annotated[list[tuple[int, str]], Meta(description="be a list of [id, token] pairs")]
Stock = Annotated[dict[str, int], Meta(description="map sku to an integer")]
OnCall = Annotated[dict[str, list[str]], Meta(description="map shift to a list of doctors")]


class Op(msgspec.Struct, kw_only=True, gc=False):
    """One operation record, its fields in the written order; the only definition of it.

    msgspec reads a block of records into these at C speed (history.read); validate_op
    below asks the same fields, types and values of one record to say what is wrong with it.
    Only op, type, t0 and t1 are required: another tool's history, or one written by hand,
    may leave the rest out, and they read as their defaults.
    """

    op: Kind
    vu: int | None = None
    token: str | None = None
    sku: str | None = None
    qty: int | None = None
    order_id: int | None = None
    status: int | None = None
    type: Outcome
    t0: float  # a JSON int reads as a float; msgspec refuses inf and NaN
    t1: float
    error: str | None = None
    attempt: int = 0
    # A leave's (the on-call workload's) fields, read by every reader; null on other records.
    shift: str | None = None
    doctor: str | None = None
    orders: Pairs | None = None
    after_id: int | None = None
    limit: int | None = None
    stock: Stock | None = None
    on_call: OnCall | None = None


PYTHON_TYPES = {
    msgspec.inspect.IntType: (int,),
    msgspec.inspect.FloatType: (int, float),  # any JSON number
    msgspec.inspect.StrType: (str,),
    msgspec.inspect.LiteralType: (str,),
    msgspec.inspect.ListType: (list,),
    msgspec.inspect.DictType: (dict,),
    msgspec.inspect.NoneType: (type(None),),
}


def _python_types(info: msgspec.inspect.Type) -> tuple:
    """Return the Python types a field's JSON values decode to (NoneType: nullable)."""
    parts = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    bare = [part.type if isinstance(part, msgspec.inspect.Metadata) else part for part in parts]
    return tuple(kind for part in bare for kind in PYTHON_TYPES[type(part)])


_INFO = msgspec.inspect.type_info(Op)
assert isinstance(_INFO, msgspec.inspect.StructType)
RECORD_FIELDS: tuple[str, ...] = Op.__struct_fields__
# Field -> the Python types it may take (None marks a nullable field), in the written order.
OP_FIELDS = {field.name: _python_types(field.type) for field in _INFO.fields}
# What the checker cannot do without; every other field may be left out and reads as its default.
REQUIRED = tuple(field.name for field in _INFO.fields if field.required)
DEFAULTS = {field.name: field.default for field in _INFO.fields if not field.required}
OPS, TYPES = get_args(Kind), get_args(Outcome)
WRITE_OPS = ("create", "cancel")
READ_OPS = ("get", "list", "items", "shifts")
LEAVE_FIELDS = ("shift", "doctor")
ANSWER_FIELDS = {
    name: OP_FIELDS[name] for name in ("orders", "after_id", "limit", "stock", "on_call")
}
FIELD_NAMES = tuple(  # what racelab load writes on every record, in this order
    name for name in RECORD_FIELDS if name not in LEAVE_FIELDS and name not in ANSWER_FIELDS
)
# The named values of a field (op: one of OPS), its finite numbers, its answers' shapes.
NAMED = {
    f.name: f.type.values for f in _INFO.fields if isinstance(f.type, msgspec.inspect.LiteralType)
}
NUMBERS = tuple(f.name for f in _INFO.fields if isinstance(f.type, msgspec.inspect.FloatType))
_HINTS = get_type_hints(Op, include_extras=True)
SHAPED = {
    f.name: (_HINTS[f.name], part.extra_json_schema["description"])
    for f in _INFO.fields
    if isinstance(f.type, msgspec.inspect.UnionType)
    for part in f.type.types
    if isinstance(part, msgspec.inspect.Metadata) and part.extra_json_schema
}


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
    return (
        _unnamed(record)
        or _infinite(record)
        or unidentified(record["op"], record.get("token"), record.get("order_id"))
        or _misshapen_answer(record)
    )


def _unnamed(record: dict) -> str | None:
    """Say which named field (op, type) holds none of its names."""
    for name, values in NAMED.items():
        if record[name] not in values:
            return f"unknown {name} {record[name]!r}"
    return None


def _infinite(record: dict) -> str | None:
    """Say that a number field is not finite (t0 and t1 are times)."""
    if all(_finite(record[name]) for name in NUMBERS):
        return None
    return f"{' and '.join(NUMBERS)} must be finite numbers"


def _finite(number) -> bool:
    """Say whether number is finite as a float (an int too large for one is not)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def unidentified(op, token, order_id) -> str | None:
    """Say what a write lacks to name its order: a create its token, a cancel token or id."""
    if op in ("create", "leave") and token is None:
        return f"a {op} needs the token it sent"
    if op == "cancel" and token is None and order_id is None:
        return "a cancel needs the token or the order_id of the order it cancelled"
    return None


def _misshapen_answer(record: dict) -> str | None:
    """Say which recorded answer is not its documented shape (the one msgspec reads)."""
    for name, (shape, description) in SHAPED.items():
        if record.get(name) is None:
            continue
        try:
            msgspec.convert(record[name], shape)
        except msgspec.ValidationError:
            return f"field {name!r} must {description}"
    return None


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


def op_from_dict(record: dict) -> Op:
    """Return a valid record (defaults filled in) as an Op."""
    return Op(**{name: record[name] for name in RECORD_FIELDS})

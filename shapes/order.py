"""The order, defined once: what a store holds, and what a client sends to make one; and
the on-call workload's one input, a leave's body, whose token is an order's.

docs/contract.md describes these shapes; the servers' request validation, the OpenAPI
schemas and the checker's well-typed rule are derived from the structs below.
"""

from operator import itemgetter
from typing import Annotated

import msgspec
from msgspec import Meta

from shapes.fields import field_rules

SKU_MAX_LENGTH = 64
QTY_MIN, QTY_MAX = 1, 100
TOKEN_MAX_LENGTH = 64
NAME_MAX_LENGTH = 64  # a doctor's name, and a shift's
TOKEN_CHARACTERS = "A-Za-z0-9_.:-"  # a regular expression's character class
TOKEN_PATTERN = f"^[{TOKEN_CHARACTERS}]{{1,{TOKEN_MAX_LENGTH}}}$"
MAX_ID = 2**63 - 1  # SQLite's largest integer; no store hands out a larger id

Sku = Annotated[str, Meta(min_length=1, max_length=SKU_MAX_LENGTH)]
Qty = Annotated[int, Meta(ge=QTY_MIN, le=QTY_MAX)]
Name = Annotated[str, Meta(min_length=1, max_length=NAME_MAX_LENGTH)]
Token = Annotated[
    str,
    Meta(
        pattern=TOKEN_PATTERN,
        description=f"1 to {TOKEN_MAX_LENGTH} characters of A-Z a-z 0-9 _ . : -",
    ),
]
# The id in DELETE /orders/<id> (a cancel) and GET /orders/<id>: one larger than any store
# can hold is answered 404, not 400.
OrderId = Annotated[int, Meta(ge=0)]
Timestamp = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class Order(msgspec.Struct, gc=False):
    """A stored order, its fields in the order every store writes them; well-typed, no more.

    Other fields are ignored when one is read: a store may keep more than the contract.
    """

    id: int
    sku: str
    qty: int
    token: str
    created_at: Timestamp


class NewOrder(msgspec.Struct, forbid_unknown_fields=True):
    """The POST /orders body: exactly these fields, each within its bounds."""

    sku: Sku
    qty: Qty
    token: Token


class NewLeave(msgspec.Struct, forbid_unknown_fields=True):
    """The POST /shifts/<shift>/leave body: exactly these fields, the token as an order's."""

    doctor: Name
    token: Token


ORDER_FIELDS: tuple[str, ...] = Order.__struct_fields__
NEW_ORDER_FIELDS: tuple[str, ...] = NewOrder.__struct_fields__
# The checker holds millions of stored orders as (id, sku, qty, token) tuples (a tuple costs
# a fraction of a struct); these name the positions, in the order of Order's fields.
ROW_FIELDS = ORDER_FIELDS[: ORDER_FIELDS.index("created_at")]
ID, SKU, QTY, TOKEN = (ROW_FIELDS.index(name) for name in ("id", "sku", "qty", "token"))
# The well-typed rule: each documented field present with its type (bounds are the request's).
ORDER_KINDS: tuple[tuple[str, type], ...] = tuple((r.name, r.kind) for r in field_rules(Order))
_TYPES = tuple(kind for _, kind in ORDER_KINDS)
_VALUES = itemgetter(*ORDER_FIELDS)


def is_order(value) -> bool:
    """Say whether value is a stored order: a dict with every documented field well-typed."""
    try:  # at C speed: the careful reader asks it of every order of a damaged store
        return tuple(map(type, _VALUES(value))) == _TYPES
    except (KeyError, TypeError):  # a field missing, or not a dict
        return False


def is_order_row(row) -> bool:
    """Say whether a row of the values of ORDER_FIELDS, in their order, is well-typed."""
    return tuple(map(type, row)) == _TYPES

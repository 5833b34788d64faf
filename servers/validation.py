"""Parse and validate request input; every failure names the bad value.

What a body may hold is its shape's (shapes/): the fields, their types and bounds are read
from the struct; only the words of the messages are the servers' own.
"""

import json

from servers.errors import Invalid
from shapes import (
    MAX_ID,
    NEW_ORDER_FIELDS,
    FieldRule,
    NewOrder,
    field_rules,
    is_kind,
    within,
)

ORDER_RULES = field_rules(NewOrder)
LIMIT_MIN, LIMIT_MAX, LIMIT_DEFAULT = 1, 1000, 100


def parse_order_body(raw: bytes) -> dict:
    """Return {sku, qty, token} from a POST /orders body, or raise Invalid."""
    body = json_fields(raw, NEW_ORDER_FIELDS, "an order")
    return {rule.name: checked(rule, body[rule.name]) for rule in ORDER_RULES}


def json_fields(raw: bytes, fields: tuple, kind: str) -> dict:
    """Return a body that is a JSON object of exactly `fields`, or raise Invalid naming what
    is wrong (kind: "an order")."""
    try:
        # RFC 8259: JSON between systems is UTF-8; json.loads would also guess UTF-16/32.
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Invalid("The body is not UTF-8 text.") from None
    except RecursionError:
        raise Invalid(f"The body is nested too deeply to be {kind}.") from None
    except ValueError as exc:
        raise Invalid(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise Invalid(f"The body must be a JSON object, not {type(body).__name__}.")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise Invalid(f"Unknown field {unknown[0]!r}; {kind} has only {_listed(fields)}.")
    missing = [name for name in fields if name not in body]
    if missing:
        raise Invalid(f"Missing field {missing[0]!r}.")
    return body


def _listed(names: tuple) -> str:
    """Return names in words: "sku, qty and token"."""
    return f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]


def checked(rule: FieldRule, value):
    """Return a field's value if its rule holds it, or raise Invalid saying what it must be."""
    if not is_kind(value, rule.kind) or not within(rule, value):
        raise Invalid(f"{rule.name} must be {_wanted(rule, value)}, not {short(value)}.")
    if rule.kind is str and not _is_unicode(value):
        raise Invalid(f"{rule.name} must be Unicode text; {short(value)} holds a lone surrogate.")
    return value


def _wanted(rule: FieldRule, value) -> str:
    """Say in words what a field's values must be (value: the one that is not)."""
    if rule.description:
        return rule.description
    if rule.kind is str:
        return f"a string of {rule.min_length} to {rule.max_length} characters"
    if not is_kind(value, int):
        return "an integer"
    return f"between {rule.ge} and {rule.le}"


def _is_unicode(text: str) -> bool:
    """Say whether text can be stored as UTF-8 (JSON's \\ud800 escapes decode to lone
    surrogates, which no UTF-8 store can hold)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def short(value) -> str:
    """Render a value for a message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_list_args(args) -> tuple[int, int]:
    """Return (limit, after_id) from GET /orders query arguments, or raise Invalid."""
    limit = _whole_number(args.get("limit", str(LIMIT_DEFAULT)), "limit")
    after_id = _whole_number(args.get("after_id", "0"), "after_id")
    if not LIMIT_MIN <= limit <= LIMIT_MAX:
        raise Invalid(f"limit must be between {LIMIT_MIN} and {LIMIT_MAX}, not {limit}.")
    if after_id > MAX_ID:
        raise Invalid(f"after_id must be at most {MAX_ID}, not {after_id}.")
    return limit, after_id


def _whole_number(text: str, name: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 40:
        raise Invalid(f"{name} must be a whole number, not {short(text)}.")
    return int(text)

"""Parse and validate request input; every failure names the bad value."""

import json
import re

from servers.errors import Invalid

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
SKU_MAX_LENGTH = 64
QTY_MIN, QTY_MAX = 1, 100
ORDER_FIELDS = ("sku", "qty", "token")
LIMIT_MIN, LIMIT_MAX, LIMIT_DEFAULT = 1, 1000, 100
MAX_ID = 2**63 - 1  # SQLite's largest integer; no store hands out a larger id


def parse_order_body(raw: bytes) -> dict:
    """Return {sku, qty, token} from a POST /orders body, or raise Invalid."""
    body = json_fields(raw, ORDER_FIELDS, "an order", "sku, qty and token")
    return {"sku": _sku(body["sku"]), "qty": _qty(body["qty"]), "token": token(body["token"])}


def json_fields(raw: bytes, fields: tuple, kind: str, listed: str) -> dict:
    """Return a body that is a JSON object of exactly `fields`, or raise Invalid naming what
    is wrong (kind: "an order"; listed: its fields in words)."""
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
        raise Invalid(f"Unknown field {unknown[0]!r}; {kind} has only {listed}.")
    missing = [name for name in fields if name not in body]
    if missing:
        raise Invalid(f"Missing field {missing[0]!r}.")
    return body


def _sku(value) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= SKU_MAX_LENGTH:
        raise Invalid(
            f"sku must be a string of 1 to {SKU_MAX_LENGTH} characters, not {short(value)}."
        )
    if not _is_unicode(value):
        raise Invalid(f"sku must be Unicode text; {short(value)} holds a lone surrogate.")
    return value


def _is_unicode(text: str) -> bool:
    """Say whether text can be stored as UTF-8 (JSON's \\ud800 escapes decode to lone
    surrogates, which no UTF-8 store can hold)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _qty(value) -> int:
    # bool is an int subclass in Python; true is not a quantity.
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"qty must be an integer, not {short(value)}.")
    if not QTY_MIN <= value <= QTY_MAX:
        raise Invalid(f"qty must be between {QTY_MIN} and {QTY_MAX}, not {short(value)}.")
    return value


def token(value) -> str:
    """Return a well-formed idempotency token, or raise Invalid naming it."""
    if not isinstance(value, str) or not TOKEN_PATTERN.fullmatch(value):
        raise Invalid(
            f"token must be 1 to 64 characters of A-Z a-z 0-9 _ . : -, not {short(value)}."
        )
    return value


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

"""What a struct says of each field, read once from msgspec's own account of its type.

The careful readers (a server naming the bad field of a request, the checker sorting
well-typed orders from the rest) ask these instead of restating a shape's types and bounds.
"""

import re
from dataclasses import dataclass
from typing import Any

import msgspec

KINDS = {msgspec.inspect.IntType: int, msgspec.inspect.StrType: str}


@dataclass(frozen=True)
class FieldRule:
    """One field of a shape: its name, the Python type of its values, and their bounds."""

    name: str
    kind: type
    min_length: int | None = None
    max_length: int | None = None
    ge: int | None = None
    le: int | None = None
    pattern: str | None = None
    description: str | None = None  # what the values may be, in words (the schema's too)


def field_rules(struct: type) -> tuple[FieldRule, ...]:
    """Return the rule of each of struct's fields, in its order (int and str fields only)."""
    info = msgspec.inspect.type_info(struct)
    if not isinstance(info, msgspec.inspect.StructType):
        raise TypeError(f"{struct!r} is not a msgspec struct")
    return tuple(_rule(field) for field in info.fields)


def _rule(field: msgspec.inspect.Field) -> FieldRule:
    info = field.type
    found: dict[str, Any] = {}
    while isinstance(info, msgspec.inspect.Metadata):  # what a JSON Schema shows
        found.update(description=(info.extra_json_schema or {}).get("description"))
        info = info.type
    bounds = ("min_length", "max_length", "ge", "le", "pattern")
    found |= {name: getattr(info, name) for name in bounds if hasattr(info, name)}
    return FieldRule(field.name, KINDS[type(info)], **found)


def is_kind(value, kind: type) -> bool:
    """Say whether value is exactly of kind (decoded JSON and SQL are): a bool is no int."""
    return type(value) is kind


def within(rule: FieldRule, value) -> bool:
    """Say whether a value of the rule's kind is within its bounds; a pattern matches whole."""
    size = len(value) if rule.kind is str else value
    low = rule.min_length if rule.kind is str else rule.ge
    high = rule.max_length if rule.kind is str else rule.le
    return (
        (low is None or size >= low)
        and (high is None or size <= high)
        and (rule.pattern is None or re.fullmatch(rule.pattern, value) is not None)
    )

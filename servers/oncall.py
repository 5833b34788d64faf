"""The on-call workload, shared by every store: the rule, its errors, its input and its seed.

A shift keeps at least one doctor on call. A leave reads who is on call, decides, and
removes one doctor: the rule spans rows, so a lock on one row (or a conditional update of
one) does not keep it. Each strategy reads and writes the way its idea says; this module
holds only what they share.
"""

import json

from servers.errors import ApiError
from servers.validation import checked, json_fields, short
from shapes import NAME_MAX_LENGTH, NewLeave, field_rules

SHIFTS_DEFAULT = 5
DOCTORS_DEFAULT = 2  # a shift of two takes one leave: the race is the last two leaving at once
LEAVE_RULES = field_rules(NewLeave)


class UnknownShift(ApiError):
    status, code = 404, "unknown_shift"


class NotOnCall(ApiError):
    status, code = 409, "not_on_call"


class LastOnCall(ApiError):
    status, code = 409, "last_on_call"


def seed_shifts(shifts: int, doctors: int) -> dict[str, list[str]]:
    """Return the seed rota: shifts s1 .. sN, each with doctors d1 .. dK on call."""
    return {f"s{n}": [f"d{k}" for k in range(1, doctors + 1)] for n in range(1, shifts + 1)}


def rows(shifts: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Return a rota as (shift, doctor) rows, for a SQL store's on_call table."""
    return [(shift, doctor) for shift, doctors in shifts.items() for doctor in doctors]


def decide(shift: str, doctor: str, on_call: list[str] | None) -> list[str]:
    """Return who stays on call once doctor leaves shift, or raise why they may not.

    on_call is who the caller saw on call, None if it saw no such shift.
    """
    if on_call is None:
        raise UnknownShift(f"No shift is called {shift!r}.")
    if doctor not in on_call:
        raise NotOnCall(f"Doctor {doctor!r} is not on call for shift {shift!r}.")
    if len(on_call) == 1:
        raise LastOnCall(f"Doctor {doctor!r} is the last one on call for shift {shift!r}.")
    return [d for d in on_call if d != doctor]


def answer(shift: str, on_call: list[str]) -> dict:
    """Return a successful leave's answer (and what a replay of its token answers)."""
    return {"shift": shift, "on_call": list(on_call)}


def encode_answer(shift: str, on_call: list[str]) -> str:
    """Return the answer as the JSON text a SQL store's leaves.answer holds."""
    return json.dumps(answer(shift, on_call), separators=(",", ":"))


def parse_shift(shift: str) -> str:
    """Return a shift named in a path, or raise UnknownShift for one no store can hold."""
    if not 1 <= len(shift) <= NAME_MAX_LENGTH:
        raise UnknownShift(f"No shift is called {short(shift)}.")
    return shift


def parse_leave_body(raw: bytes) -> dict:
    """Return {doctor, token} from a POST /shifts/<shift>/leave body, or raise Invalid."""
    body = json_fields(raw, NewLeave.__struct_fields__, "a leave")
    return {rule.name: checked(rule, body[rule.name]) for rule in LEAVE_RULES}

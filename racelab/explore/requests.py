"""From `--request 'A: create sku-1 1'` and `--setup skus=1,stock=1` to a step spec.

The spec is built as the document a spec file holds and checked by the step spec parser,
so explore accepts exactly what `racelab step` replays.
"""

import re

from racelab.exceptions import BadInput
from racelab.step.spec import Spec, StepSpecError, parse_spec

ARGUMENTS = {"create": ("SKU", "QTY"), "cancel": ("ID_OR_TOKEN",), "leave": ("SHIFT", "DOCTOR")}
SETUP_KEYS = ("skus", "stock", "orders", "shifts", "doctors")
DEFAULT_SETUP = {"skus": 1, "stock": 1}  # the last unit: the smallest store a race oversells
SETUP_ORDER_SKU = "sku-1"


class ExploreError(BadInput, ValueError):
    """A request or setup explore cannot use, saying which and why."""


def parse_request(text: str) -> tuple[str, list[str]]:
    """Return ('A', ['create', 'sku-1', '1']) for 'A: create sku-1 1'."""
    session, colon, rest = text.partition(":")
    words = rest.split()
    if not colon or not session.strip() or not words:
        raise ExploreError(f"{text!r} is not 'SESSION: OP ARGS' (e.g. 'A: create sku-1 1')")
    op = words[0]
    if op not in ARGUMENTS:
        raise ExploreError(f"{text!r}: the op must be one of {', '.join(ARGUMENTS)}")
    if len(words) - 1 != len(ARGUMENTS[op]):
        raise ExploreError(f"{text!r}: {op} takes {' '.join(ARGUMENTS[op])}")
    return session.strip(), words


def parse_setup(text: str | None) -> dict:
    """Return {'skus': 1, 'stock': 1} for 'skus=1,stock=1' (the defaults for None)."""
    setup = dict(DEFAULT_SETUP)
    for part in filter(None, (text or "").split(",")):
        key, equals, value = part.partition("=")
        key = key.strip()
        if not equals or key not in SETUP_KEYS or not value.strip().isdigit():
            raise ExploreError(
                f"{part!r} is not KEY=NUMBER with KEY one of {', '.join(SETUP_KEYS)}"
            )
        setup[key] = int(value)
    return setup


def build_spec(request_texts: list[str], setup_text: str | None, name: str = "explore") -> Spec:
    """Return the checked spec the requests and setup make (no permutations of its own)."""
    doc = spec_document(request_texts, parse_setup(setup_text))
    try:
        return parse_spec(doc, name)
    except StepSpecError as e:
        raise ExploreError(str(e).removeprefix(f"{name}: ")) from None


def spec_document(request_texts: list[str], setup: dict) -> dict:
    """Return the spec's document: setup, sessions in order of first mention, tokens given."""
    orders = [
        {"sku": SETUP_ORDER_SKU, "qty": 1, "token": f"o{n}"}
        for n in range(1, setup.get("orders", 0) + 1)
    ]
    sessions: dict[str, list[dict]] = {}
    for text in request_texts:
        session, words = parse_request(text)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", session):
            raise ExploreError(f"session name {session!r} must be 1-32 letters, digits, _ or -")
        own = sessions.setdefault(session, [])
        own.append(_request(words, f"{session.lower()}{len(own) + 1}", len(orders)))
    _check_distinct_tokens(sessions)
    table = {k: v for k, v in setup.items() if k != "orders"}
    if orders:
        table["orders"] = orders
    return {"setup": table, "permutations": [],
            "session": [{"name": n, "requests": r} for n, r in sessions.items()]}  # fmt: skip


def _request(words: list[str], token: str, setup_orders: int) -> dict:
    """Return one spec request; a create or leave gets token, a cancel names its order."""
    op, *args = words
    if op == "create":
        if not args[1].isdigit():
            raise ExploreError(f"create {' '.join(args)}: QTY must be a whole number")
        return {"op": "create", "sku": args[0], "qty": int(args[1]), "token": token}
    if op == "leave":
        return {"op": "leave", "shift": args[0], "doctor": args[1], "token": token}
    return {"op": "cancel", "token": _order_token(args[0], setup_orders)}


def _order_token(id_or_token: str, setup_orders: int) -> str:
    """Return the token of the order a cancel names: setup order N (id N on a fresh store)
    is token oN; anything else is a token a create of the command line makes."""
    if not id_or_token.isdigit():
        return id_or_token
    if not 1 <= int(id_or_token) <= setup_orders:
        raise ExploreError(
            f"cancel {id_or_token}: a fresh store has orders 1..{setup_orders} "
            "(--setup orders=N stores N first); or name a create's token, e.g. a1"
        )
    return f"o{id_or_token}"


def _check_distinct_tokens(sessions: dict) -> None:
    seen: dict[str, str] = {}
    for name, requests in sessions.items():
        for request in requests:
            if request["op"] != "cancel" and seen.setdefault(request["token"], name) != name:
                raise ExploreError(
                    f"sessions {seen[request['token']]!r} and {name!r} would both send token "
                    f"{request['token']!r}: give them names that differ in more than case"
                )


def alone(spec: Spec, name: str) -> Spec:
    """Return spec with only session name, storing first the orders it cancels that other
    sessions create, so it passes the points it would pass after them."""
    session = spec.session(name)
    cancelled = {r["token"] for r in session.requests if r["op"] == "cancel"}
    own = {r["token"] for r in session.requests if r["op"] == "create"}
    borrowed = [
        {k: r[k] for k in ("sku", "qty", "token")}
        for other in spec.sessions
        if other.name != name
        for r in other.requests
        if r["op"] == "create" and r["token"] in cancelled - own
    ]
    return Spec(f"{spec.name}: {name} alone", spec.path, spec.skus, spec.stock,
                [*spec.orders, *borrowed], [session], shifts=spec.shifts,
                doctors=spec.doctors)  # fmt: skip

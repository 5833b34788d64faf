"""One operation of a load: a planned step resolved against a user's orders, and its record."""

from collections.abc import Callable
from dataclasses import dataclass

from history import READ_OPS, encode_op, with_fields
from loadtests.client import LIST_LIMIT, request_args
from loadtests.outcome import answer_fields
from loadtests.plan import Step


@dataclass(slots=True)
class Operation:
    """One resolved step: what is sent for whom, and what to call once it has ended."""

    vu: int
    op: str
    token: str | None
    sku: str | None
    qty: int | None
    order_id: int | None
    request: tuple  # (method, path, body bytes or None)
    orders: list  # the user's orders: a created one is added, a cancelled one was taken
    then: Callable[[], None]
    t0: float = 0.0
    attempt: int = 0
    shift: str | None = None  # a leave's
    doctor: str | None = None
    after_id: int = 0  # a list's


def resolve(vu: int, step: Step, orders: list, then: Callable[[], None]) -> Operation:
    """Resolve a step against this user's orders into the operation to send."""
    op, order = step.op, None
    token: str | None
    sku: str | None
    qty: int | None
    order_id: int | None
    if op in ("cancel", "get") and orders:
        order = orders[int(step.pick * len(orders))]
    if order is None and op in ("cancel", "get"):
        # Nothing of this user's to cancel or read yet: order, or browse, instead.
        op = "create" if op == "cancel" else "list"
    if op == "cancel":
        orders.remove(order)  # no other cancel may pick it while this one runs
    if op == "create":
        token, sku, qty, order_id = step.token, step.sku, step.qty, None
    elif order is not None:
        order_id, token, sku, qty = order
    else:
        token = sku = qty = order_id = None
    shift, doctor = (step.shift, step.doctor) if op == "leave" else (None, None)
    token = step.token if op == "leave" else token
    after_id = order[0] if op == "list" and order else 0
    request = request_args(op, sku, qty, token, order_id, after_id, shift, doctor)
    return Operation(
        vu, op, token, sku, qty, order_id, request, orders, then, 0.0, 0, shift, doctor, after_id
    )


def created_id(op: str, outcome) -> int | None:
    """Return the id a create's ok answer gave, or None."""
    if op != "create" or outcome.type != "ok" or not isinstance(outcome.body, dict):
        return None
    found = outcome.body.get("id")
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def parses(op: str, record_reads: bool) -> bool:
    """Say whether op's answer is parsed: a create's for its id, a recorded read's."""
    return op == "create" or (record_reads and op in READ_OPS)


def history_line(o: Operation, outcome, order_id, t1: float, record_reads: bool = False):
    """Return the history record of one attempt of o, ended at t1."""
    line = _usual_line(o, outcome, order_id, t1)
    if o.op == "leave":
        return with_fields(line, {"shift": o.shift, "doctor": o.doctor})
    if record_reads and o.op in READ_OPS:
        return with_fields(
            line, answer_fields(o.op, outcome.status, outcome.body, o.after_id, LIST_LIMIT)
        )
    return line


def _usual_line(o: Operation, outcome, order_id, t1: float) -> str:
    """Return the fields racelab load writes on every record, encoded."""
    return encode_op(
        o.op,
        o.vu,
        o.token,
        o.sku,
        o.qty,
        order_id,
        outcome.status,
        outcome.type,
        o.t0,
        t1,
        outcome.cause,
        o.attempt,
    )

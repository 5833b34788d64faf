"""One operation of a load: a planned step resolved against a user's orders, and its record."""

from collections.abc import Callable
from dataclasses import dataclass

from history import encode_op
from loadtests.client import request_args
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


def resolve(vu: int, step: Step, orders: list, then: Callable[[], None]) -> Operation:
    """Resolve a step against this user's orders into the operation to send."""
    op, order = step.op, None
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
    after_id = order[0] if op == "list" and order else 0
    request = request_args(op, sku, qty, token, order_id, after_id)
    return Operation(vu, op, token, sku, qty, order_id, request, orders, then)


def created_id(op: str, outcome) -> int | None:
    """Return the id a create's ok answer gave, or None."""
    if op != "create" or outcome.type != "ok" or not isinstance(outcome.body, dict):
        return None
    found = outcome.body.get("id")
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def history_line(o: Operation, outcome, order_id, t1: float):
    """Return the history record of one attempt of o, ended at t1."""
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

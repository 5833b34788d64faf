"""One small function per anomaly class; each returns (count, examples).

checker/checks.py lists them, with what each needs and where it is counted.

Jepsen's rule throughout: an ok write must be in the store, a fail write must not, an
info write may or may not be.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from checker.facts import FAIL, INFO, NONE, OK, HistoryFacts
from checker.orders import Snapshot
from checker.store_index import Join, StoreIndex
from history import History, HistoryStream
from shapes import ID, QTY, ROW_FIELDS, SKU, TOKEN


@dataclass
class Context:
    """Everything a check may look at."""

    snapshot: Snapshot
    index: StoreIndex
    facts: HistoryFacts | None = None  # None without a history
    history: History | HistoryStream | None = None  # the history itself, or None

    @property
    def history_facts(self) -> HistoryFacts:
        """Return the history's facts, for a check that runs only with a history (checks.py)."""
        if self.facts is None:
            raise LookupError("this check needs a history")
        return self.facts

    @cached_property
    def leaves(self) -> list[dict]:
        """Return the history's leave records (the on-call workload's writes)."""
        from checker.oncall import leave_records  # noqa: PLC0415 - only the on-call checks

        return leave_records(self.history)

    @cached_property
    def reads(self) -> list[dict]:
        """Return the history's reads that recorded what they returned."""
        from checker.sparse import ANSWER_WORDS, is_answered_read, search  # noqa: PLC0415

        return search(self.history, ANSWER_WORDS, is_answered_read)

    @cached_property
    def join(self) -> Join:
        """Return the store matched to the history, token by token (needs facts)."""
        return Join(self.history_facts, self.index, self.snapshot)


def _order(order) -> dict:
    return dict(zip(ROW_FIELDS, order, strict=True))


def _span(record) -> str:
    return f"{record['t0']:.3f}-{record['t1']:.3f} s"


def _example(text: str, ctx: Context, token=None, **extra) -> dict:
    """Return an example with the token's history records and the writes that overlapped."""
    example = {"text": text, **extra}
    if token is not None:
        example["tokens"] = [token]
    if token is not None and ctx.facts is not None:
        indices = ctx.facts.write_indices(token)
        example["records"] = [ctx.facts.record(i) for i in indices[:5]]
        if indices:
            example["overlapping"] = ctx.facts.overlapping(indices[0])
    return example


def corrupt_store(ctx: Context, limit: int):
    """The store is unparseable, not the documented shape, or fails integrity_check."""
    reason = ctx.snapshot.corruption
    return (1, [{"text": f"{ctx.snapshot.path}: {reason}."}]) if reason else (0, [])


def corrupt_record(ctx: Context, limit: int):
    """Stored orders with bad fields, or with a sku/qty other than the client sent."""
    examples = [malformed_example(bad) for bad in ctx.snapshot.malformed[:limit]]
    count = len(ctx.snapshot.malformed)
    if ctx.facts is not None:
        wrong = ctx.join.mismatched()
        count += len(wrong)
        orders = map(ctx.snapshot.orders.__getitem__, wrong[: max(0, limit - len(examples))])
        examples += [mismatched_example(ctx, order) for order in orders]
    return count, examples


def malformed_example(bad) -> dict:
    """Describe a stored order with a missing or ill-typed field."""
    return {"text": f"stored order {bad!r:.200} lacks a well-typed field."}


def mismatched_example(ctx: Context, order) -> dict:
    """Describe a stored order whose sku or qty is not what its client sent."""
    sku, qty = ctx.history_facts.sent(order[TOKEN])
    text = (
        f"token {order[TOKEN]} was sent as {qty} x {sku} but "
        f"stored as {order[QTY]} x {order[SKU]} (id {order[ID]})."
    )
    return _example(text, ctx, order[TOKEN], stored=_order(order))


def lost(ctx: Context, limit: int):
    """Creates acknowledged ok whose token is not stored and was never cancelled."""
    facts = ctx.history_facts
    lost_ = (facts.created == OK) & (facts.cancelled < INFO) & ~ctx.join.held
    tokens = facts.tokens_at(lost_)
    return len(tokens), [lost_example(ctx, t) for t in tokens[:limit]]


def lost_example(ctx: Context, token: str) -> dict:
    """Describe an acknowledged create whose token is not stored."""
    facts = ctx.history_facts
    acked = facts.acked_id(token)
    record = _acked_create(facts, token)
    rivals = [t for t in facts.collisions.get(acked, ()) if t != token]
    text = (
        f"token {token} was acknowledged ({record['status'] or 'ok'}, id {acked}) over "
        f"{_span(record)} but is not in the store."
    )
    if rivals:
        rival = _acked_create(facts, rivals[0])
        when = "an overlapping" if _overlap(record, rival) else "another"
        text += (
            f" Token {rivals[0]} got the same id {acked} in {when} write: "
            f"a later read-modify-write replaced the store with a copy that never held "
            f"{token}."
        )
    return _example(text, ctx, token)


def _overlap(a: dict, b: dict) -> bool:
    """Say whether two records' time spans overlap."""
    return max(a["t0"], b["t0"]) < min(a["t1"], b["t1"])


def duplicated(ctx: Context, limit: int):
    """Tokens stored more than once."""
    repeats = ctx.index.repeated_tokens
    examples = [duplicated_example(ctx, t, orders) for t, orders in list(repeats.items())[:limit]]
    return len(repeats), examples


def duplicated_example(ctx: Context, token, orders: list) -> dict:
    """Describe a token stored more than once (orders: every order that holds it)."""
    return _example(
        f"token {token} is stored {len(orders)} times, as ids "
        f"{', '.join(str(o[ID]) for o in orders)}.",
        ctx,
        token,
        stored=[_order(o) for o in orders],
    )


def id_collision(ctx: Context, limit: int):
    """One id on two stored orders, or handed to two tokens in ok answers."""
    stored = {i: sorted({o[TOKEN] for o in orders}) for i, orders in ctx.index.repeated_ids.items()}
    acked = {} if ctx.facts is None else ctx.facts.collisions
    return collisions(ctx, stored, acked, limit)


def collisions(ctx: Context, stored: dict, acked: dict, limit: int):
    """Count the ids stored on two orders (stored: id -> their tokens, sorted) or acked to
    two tokens (acked: id -> those tokens, sorted); describe the first few by id."""
    ids = sorted(set(stored) | set(acked))
    examples = [collision_example(ctx, i, stored.get(i), acked.get(i)) for i in ids[:limit]]
    return len(ids), examples


def collision_example(ctx: Context, order_id, stored_tokens, acked_tokens) -> dict:
    """Describe one id on two stored orders, or handed to two tokens in ok answers."""
    if stored_tokens:
        return {
            "text": f"id {order_id} is stored on {len(stored_tokens)} orders "
            f"(tokens {', '.join(stored_tokens)}).",
            "tokens": stored_tokens,
        }
    records = [_acked_create(ctx.history_facts, t) for t in acked_tokens]
    start, end = max(r["t0"] for r in records), min(r["t1"] for r in records)
    together = (
        f"their requests overlapped from {start:.3f} s to {end:.3f} s"
        if start < end
        else "their requests did not overlap"
    )
    kept = [t for t in acked_tokens if t in ctx.index.by_token]
    outcome = (
        "the final state could not be read"
        if ctx.snapshot.unreadable
        else f"only {', '.join(kept)} is stored: the others' writes were overwritten"
        if len(kept) < len(acked_tokens)
        else "both are stored"
    )
    return {
        "text": f"tokens {' and '.join(acked_tokens)} all got id {order_id}; "
        f"{together}; {outcome}.",
        "tokens": list(acked_tokens),
        "records": records,
    }


def _acked_create(facts, token) -> dict:
    """Return the first ok create record of token."""
    records = (facts.record(i) for i in facts.write_indices(token))
    return next(r for r in records if r["op"] == "create" and r["type"] == "ok")


def unexpected(ctx: Context, limit: int):
    """Stored orders whose token no client sent, or whose every create failed."""
    # Never sent, or its strongest create failed (NONE or FAIL), once per stored token:
    strongest = ctx.join.per_stored(ctx.history_facts.created, NONE)
    positions = np.flatnonzero(strongest <= FAIL)
    orders = map(ctx.index.distinct.__getitem__, positions[:limit].tolist())
    return int(positions.size), [unexpected_example(ctx, order) for order in orders]


def unexpected_example(ctx: Context, order) -> dict:
    """Describe a stored order whose token no client sent, or whose every create failed."""
    order_id, token = order[ID], order[TOKEN]
    why = (
        "no client sent it."
        if ctx.history_facts.outcome(token) is None
        else "every create that sent it failed."
    )
    return _example(f"token {token} is stored (id {order_id}) but " + why, ctx, token)


def resurrected(ctx: Context, limit: int):
    """Orders whose cancel was ok but that are still stored."""
    tokens = ctx.history_facts.writes.tokens.names(ctx.join.resurrected())
    return len(tokens), [resurrected_example(ctx, t) for t in tokens[:limit]]


def resurrected_example(ctx: Context, token) -> dict:
    """Describe an order cancelled ok that is still stored."""
    return _example(
        f"order {ctx.index.by_token[token][0]} (token {token}) was cancelled ok and is stored "
        "again: a stale copy of the store was written back over the cancel.",
        ctx,
        token,
    )


def stock_mismatch(ctx: Context, limit: int):
    """Skus whose initial stock minus stored orders' qty differs from the stored stock."""
    initial, sold = ctx.history_facts.initial, ctx.index.qty_by_sku
    items = ctx.snapshot.items or {}  # None: no stock could be read
    skus = sorted(
        s
        for s in set(initial) | set(items)
        if initial.get(s, 0) - sold[s] != items.get(s, 0) and ctx.index.stock_known(s)
    )
    examples = [_mismatch_example(s, initial.get(s, 0), sold[s], items.get(s, 0)) for s in skus]
    return len(skus), examples[:limit]


def _mismatch_example(sku, initial: int, sold: int, stock: int) -> dict:
    left = initial - sold
    why = (
        "a stock decrement was overwritten (a lost update)"
        if stock > left
        else "stock was taken for orders that are not stored"
    )
    return {
        "text": f"{sku}: {initial} at the start - {sold} in stored orders = {left}, "
        f"but the store says {stock}: {why}.",
        "sku": sku,
    }


def oversold(ctx: Context, limit: int):
    """Skus with stock below zero, or more sold than there was."""
    items, sold = ctx.snapshot.items or {}, ctx.index.qty_by_sku
    initial = ctx.facts.initial if ctx.facts is not None else {}
    skus = sorted(
        s
        for s in set(items) | set(initial)
        if items.get(s, 0) < 0 or (s in initial and sold[s] > initial[s])
    )
    examples = [
        {
            "text": f"{s}: {sold[s]} sold of {initial.get(s, '?')} at the start; "
            f"stock now {items.get(s, 0)}.",
            "sku": s,
        }
        for s in skus[:limit]
    ]
    return len(skus), examples

"""Stale reads: a read that began after a write was acknowledged, and did not see it.

The real-time half of linearizability, as Knossos and Porcupine check it: once a write's
answer came back, every read that starts later must reflect it. A read records what it
returned (history/format.py, ANSWER_FIELDS); a write counts only if the store still holds
its effect at the end, so a write the store lost is `lost` (or `lost_leave`), not a stale
read of every read after it. A write a cancel may have undone before the read ended (any
cancel sent before then, not refused) is not one the read had to see.
"""

import numpy as np

from checker.facts import FAIL, NONE, OK

NEVER = np.inf


class Acked:
    """The stored orders whose create was acknowledged, by id: what a read must show."""

    def __init__(self, ctx):
        writes, join, distinct = ctx.facts.writes, ctx.join, ctx.index.distinct
        tokens = len(writes.tokens)
        acked_at = _earliest(tokens, writes.code, writes.t1, writes.create & (writes.rank == OK))
        undone = _earliest(tokens, writes.code, writes.t0, ~writes.create & (writes.rank != FAIL))
        codes = join.stored_codes
        known = codes != NONE
        known[known] = np.isfinite(acked_at[codes[known]])
        ids = distinct.ids[known]
        order = np.argsort(ids, kind="stable")
        self.ids, self.codes = ids[order], codes[known][order]
        self.acked_at, self.undone = acked_at[self.codes], undone[self.codes]
        positions = np.flatnonzero(known)[order]
        self.skus = [distinct.skus[p] for p in positions.tolist()]
        self.qtys = distinct.qtys[positions]
        self.name = writes.tokens.name
        self._taken = None

    def taken(self, sku, t0: float, t1: float) -> int:
        """Return the qty of sku's orders a read over [t0, t1] must see taken from stock."""
        if self._taken is None:
            self._taken = self._taken_by_sku()
        times, total = self._taken.get(sku, (np.zeros(0), np.zeros(1, np.int64)))
        taken = int(total[np.searchsorted(times, t0, "left")])
        # Orders a cancel may have undone are few (a cancel that was sent and not refused,
        # yet the order is stored): taken back one by one.
        for at in self._undoable.get(sku, ()):
            if self.acked_at[at] < t0 and self.undone[at] < t1:
                taken -= int(self.qtys[at])
        return taken

    def _taken_by_sku(self) -> dict:
        """Return sku -> (acknowledgement times in order, the qty taken by each prefix)."""
        found: dict = {}
        self._undoable: dict = {}
        for at in np.flatnonzero(np.isfinite(self.undone)).tolist():
            self._undoable.setdefault(self.skus[at], []).append(at)
        by_sku: dict = {}
        for at, sku in enumerate(self.skus):
            by_sku.setdefault(sku, []).append(at)
        for sku, positions in by_sku.items():
            order = np.array(positions)[np.argsort(self.acked_at[positions], kind="stable")]
            qtys = np.array([int(q) for q in self.qtys[order]], np.int64)
            found[sku] = (self.acked_at[order], np.concatenate(([0], np.cumsum(qtys))))
        return found

    def must_see(self, low, high, t0: float, t1: float) -> np.ndarray:
        """Return the positions of orders with low < id <= high a read over [t0, t1] must see."""
        begin = np.searchsorted(self.ids, low, "right")
        end = len(self.ids) if high is None else np.searchsorted(self.ids, high, "right")
        span = slice(begin, end)
        due = (self.acked_at[span] < t0) & (self.undone[span] >= t1)
        return np.flatnonzero(due) + begin


def _earliest(tokens: int, codes, times, mask) -> np.ndarray:
    """Return per token the earliest of times where mask holds (NEVER: none)."""
    found = np.full(tokens, NEVER)
    np.minimum.at(found, codes[mask], times[mask])
    return found


def stale_read(ctx, limit: int):
    """Reads that began after a write was acknowledged (and is still stored) and missed it."""
    acked = Acked(ctx) if any(r["orders"] is not None or r["stock"] for r in ctx.reads) else None
    left, initial = _left_at(ctx), _judged_stock(ctx)
    stale = []
    for read in ctx.reads:
        why = _orders_missed(read, acked) or _stock_missed(read, acked, initial)
        why = why or _leave_missed(read, left)
        if why:
            stale.append((read, why))
    return len(stale), [_example(read, why) for read, why in stale[:limit]]


def _orders_missed(read: dict, acked: Acked | None) -> str | None:
    """Say which order a get or a list should have returned and did not."""
    if read["orders"] is None or acked is None:
        return None
    low, high = _page(read)
    if high is not None and high <= low:
        return None
    tokens = {token for _, token in read["orders"]}
    ids = {oid for oid, _ in read["orders"]}  # an id returned with another token: a collision
    for at in acked.must_see(low, high, read["t0"], read["t1"]).tolist():
        token = acked.name(int(acked.codes[at]))
        if token not in tokens and acked.ids[at] not in ids:
            return (
                f"did not return order {acked.ids[at]} (token {token}), whose create was "
                f"acknowledged at {acked.acked_at[at]:.3f} s and which the store still holds"
            )
    return None


def _page(read: dict) -> tuple:
    """Return the ids a read vouches for, as (low, high]: high None means every id above."""
    if read["op"] == "get":
        asked = read["order_id"]
        return (asked - 1, asked) if asked is not None else (0, 0)
    ids = [oid for oid, _ in read["orders"]]
    low = read["after_id"] or 0
    full = read["limit"] is None or len(ids) >= read["limit"]
    return low, (max(ids, default=low) if full else None)


def _judged_stock(ctx) -> dict:
    """Return the starting stock of the skus whose final stock kept every stored order's
    decrement: where one was overwritten, reads above it are that lost update
    (stock_mismatch), not stale."""
    items, sold, initial = ctx.snapshot.items or {}, ctx.index.qty_by_sku, ctx.facts.initial
    return {
        sku: stock for sku, stock in initial.items()
        if ctx.index.stock_known(sku) and items.get(sku, 0) <= stock - sold[sku]
    }  # fmt: skip


def _stock_missed(read: dict, acked: Acked | None, initial: dict) -> str | None:
    """Say which sku's stock a read gave above what acknowledged orders can have left."""
    if not read["stock"] or acked is None:
        return None
    for sku, stock in read["stock"].items():
        if sku not in initial:
            continue
        taken = acked.taken(sku, read["t0"], read["t1"])
        if stock > initial[sku] - taken:
            return (
                f"said {sku} had {stock} in stock, but at most {initial[sku] - taken} could "
                f"be left once the {taken} units of orders acknowledged before it began (and "
                "still stored) were taken"
            )
    return None


def _left_at(ctx) -> dict:
    """Return (shift, doctor) -> when the first acknowledged leave took them off call, for
    the doctors the store has off call at the end."""
    shifts = ctx.snapshot.shifts or {}
    left: dict = {}
    for r in ctx.leaves:
        key = (r["shift"], r["doctor"])
        if r["type"] == "ok" and r["shift"] in shifts and r["doctor"] not in shifts[r["shift"]]:
            if key not in left or r["t1"] < left[key][0]:
                left[key] = (r["t1"], r["token"])
    return left


def _leave_missed(read: dict, left: dict) -> str | None:
    """Say which doctor a shifts read still had on call after their leave was acknowledged."""
    for shift, doctors in (read["on_call"] or {}).items():
        for doctor in doctors:
            when, token = left.get((shift, doctor), (NEVER, None))
            if when < read["t0"]:
                return (
                    f"still had {doctor} on call for {shift}, though leave {token} took them "
                    f"off at {when:.3f} s and the store has them off call"
                )
    return None


def _example(read: dict, why: str) -> dict:
    return {
        "text": f"{read['op']} read at {read['t0']:.3f}-{read['t1']:.3f} s {why}: it began "
        "after that write was acknowledged, yet saw the store as it was before it.",
        "records": [read],
    }

"""The on-call workload's checks: write skew (G2-item) and a lost leave.

The rule spans rows: every shift keeps at least one doctor on call. A store read by its
documented format (docs/contract.md) gives who is on call; the history's `leave` records
say which leaves were acknowledged, and when. Leaves are few beside a load's orders, so
they are read on their own, by a byte search of the history for the word (checker/sparse.py),
not by the columnar reader every order passes through.
"""

import numpy as np

from checker.contention import NOT_SENT
from checker.sparse import LEAVE_WORDS, is_leave, search


def read_sql_shifts(db) -> dict[str, list[str]]:
    """Return who is on call by shift from a SQLite or psycopg connection ({} without a rota)."""
    if not _has_rota(db):
        return {}
    found: dict[str, list[str]] = {
        row[0]: [] for row in db.execute("SELECT shift FROM shifts ORDER BY shift")
    }
    for shift, doctor in db.execute("SELECT shift, doctor FROM on_call ORDER BY shift, doctor"):
        found.setdefault(shift, []).append(doctor)
    return found


def _has_rota(db) -> bool:
    # Asked, not tried: a failed statement would end a PostgreSQL read's transaction.
    if type(db).__module__.startswith("sqlite3"):
        query = "SELECT count(*) FROM sqlite_master WHERE name IN ('shifts', 'on_call')"
    else:
        query = (
            "SELECT (to_regclass('shifts') IS NOT NULL)::int"
            " + (to_regclass('on_call') IS NOT NULL)::int"
        )
    return db.execute(query).fetchone()[0] == 2


def document_shifts(doc: dict):
    """Return a decoded store.json's rota, {} without one, or None if it is ill-typed."""
    shifts = doc.get("shifts", {})
    if isinstance(shifts, dict) and all(
        isinstance(doctors, list) and all(isinstance(d, str) for d in doctors)
        for doctors in shifts.values()
    ):
        return shifts
    return None


def leave_records(history) -> list[dict]:
    """Return the history's valid leave records, in history order."""
    return search(history, LEAVE_WORDS, is_leave)


def write_skew(ctx, limit: int):
    """Shifts left with nobody on call, each explained by the acknowledged leaves of it."""
    empty = [shift for shift, doctors in ctx.snapshot.shifts.items() if not doctors]
    leaves = ctx.leaves if empty else []  # the history is searched only to explain one
    return len(empty), [_skew_example(shift, leaves) for shift in empty[:limit]]


def _skew_example(shift: str, leaves: list[dict]) -> dict:
    ok = [r for r in leaves if r["shift"] == shift and r["type"] == "ok"]
    met = [r for r in ok if any(_overlap(r, o) for o in ok if o is not r)]
    named = ", ".join(f"{r['token']} ({r['doctor']}, {r['t0']:.3f}-{r['t1']:.3f} s)" for r in met)
    if met:
        why = (
            f"the acknowledged leaves {named} overlapped in time: each decided on a rota that "
            "still had the other doctor on call, and each removed a different one"
        )
    else:
        why = f"{len(ok)} leave(s) of it were acknowledged, none overlapping another"
    return {"text": f"shift {shift} was left with nobody on call: {why}.",
            "tokens": [r["token"] for r in met or ok], "records": (met or ok)[:5]}  # fmt: skip


def _overlap(a: dict, b: dict) -> bool:
    return a["t0"] < b["t1"] and b["t0"] < a["t1"]


def lost_leave(ctx, limit: int):
    """Acknowledged leaves whose doctor the store still has on call for their shift."""
    shifts = ctx.snapshot.shifts
    lost = [
        r for r in ctx.leaves
        if r["type"] == "ok" and r["doctor"] in shifts.get(r["shift"], ())
    ]  # fmt: skip
    examples = [
        {"text": f"leave {r['token']} took {r['doctor']} off call for {r['shift']} (ok at "
                 f"{r['t1']:.3f} s), but the store still has {r['doctor']} on call: a stale "
                 "copy of the rota was written back over it.",
         "tokens": [r["token"]], "records": [r]}
        for r in lost[:limit]
    ]  # fmt: skip
    return len({r["token"] for r in lost}), examples


def spans_with_leaves(t0, t1, groups, leaves: list[dict]) -> tuple:
    """Return the writes' (t0, t1, group) with the leaves after them, grouped by shift.

    The contention measure then counts leaves of one shift that overlapped, as it counts
    writes of one sku: without them an on-call run could never be called held.
    """
    if not leaves:
        return t0, t1, groups
    first = int(groups.max()) + 1 if groups.size else 0
    shifts: dict = {}
    leave_groups = [
        NOT_SENT if r["type"] == "fail" and r["status"] is None
        else first + shifts.setdefault(r["shift"], len(shifts))
        for r in leaves
    ]  # fmt: skip
    return (
        np.concatenate((t0, np.array([r["t0"] for r in leaves], np.float64))),
        np.concatenate((t1, np.array([r["t1"] for r in leaves], np.float64))),
        np.concatenate((groups, np.array(leave_groups, np.int32))),
    )

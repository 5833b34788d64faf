"""The one table of anomaly classes: how each is found, what it needs, where it shows.

Adding a check: write its function in checker/anomalies.py, give it a row here, and name
it in docs/contract.md. The report, the compare table's columns and the charts follow.
"""

from collections.abc import Callable
from typing import NamedTuple

from checker.anomalies import (
    Context,
    corrupt_record,
    corrupt_store,
    duplicated,
    id_collision,
    lost,
    oversold,
    resurrected,
    stock_mismatch,
    unexpected,
)
from checker.oncall import lost_leave, write_skew
from checker.stale import stale_read

__all__ = ["CHECKS", "Check", "Context", "columns"]


class Check(NamedTuple):
    """One anomaly class: how to find it, what it needs, and where a summary shows it."""

    fn: Callable[[Context, int], tuple[int, list[dict]]]  # (count, examples) within a limit
    # What it must have to run: "state" (the final state could be read), "history",
    # "items", "file" (the store itself, not the API), "shifts", "reads" (reads that
    # recorded what they returned). id_collision needs none: the answers alone can show
    # one id handed to two tokens.
    needs: tuple[str, ...]
    column: str | None  # the compare table's column that counts it (None: only in reports)
    known_as: str = ""  # the name people already know it by (Berenson et al., Adya, Hermitage)


# The one list of anomaly classes: the report, the table columns and the charts follow it.
# Its order is the report's order.
CHECKS = {
    "corrupt_store": Check(
        corrupt_store, ("state", "file"), "corrupt",
        "dirty write (G0): two writers' bytes interleaved in one file; or a torn write",
    ),
    "corrupt_record": Check(corrupt_record, ("state",), "corrupt", "a corrupted write"),
    "lost": Check(
        lost, ("state", "history"), "lost",
        "lost update (P4): an acknowledged write overwritten by a stale copy",
    ),
    "duplicated": Check(
        duplicated, ("state",), "dup", "duplicated write: a retried request applied twice"
    ),
    "id_collision": Check(
        id_collision, (), "ids",
        "lost update (P4) on the id counter, seen as a duplicate key",
    ),
    "unexpected": Check(
        unexpected, ("state", "history"), None,
        "a failed write that took effect (the write-side twin of G1a, aborted read)",
    ),
    "resurrected": Check(
        resurrected, ("state", "history"), None,
        "lost update (P4) of a delete: a stale copy written back over it",
    ),
    "stock_mismatch": Check(
        stock_mismatch, ("state", "history", "items"), "stock",
        "lost update (P4) on a counter: read, compute, write back",
    ),
    "oversold": Check(
        oversold, ("state", "items"), "stock",
        "lost update (P4) that breaks an invariant (stock >= 0): checked, then acted on",
    ),
    "write_skew": Check(
        write_skew, ("state", "shifts"), "skew",
        "write skew (G2-item): two transactions each read a rule as kept, and each wrote "
        "a different row that broke it",
    ),
    "lost_leave": Check(
        lost_leave, ("state", "history", "shifts"), "lost",
        "lost update (P4) of a leave: a stale copy of the rota written back over it",
    ),
    "stale_read": Check(
        stale_read, ("state", "history", "reads"), "stale",
        "stale read: a read began after a write was acknowledged and did not see it (the "
        "real-time order of linearizability, as Knossos and Porcupine check it)",
    ),
}  # fmt: skip


# The compare table reads what is lost first; a column not named here comes last.
COLUMN_ORDER = ("lost", "dup", "ids", "corrupt", "stock", "skew", "stale")


def columns() -> dict[str, list[str]]:
    """Return the compare table's anomaly columns, each with the classes it adds up."""
    found: dict[str, list[str]] = dict.fromkeys(COLUMN_ORDER, [])
    for name, check in CHECKS.items():
        if check.column:
            found[check.column] = [*found.get(check.column, []), name]
    return {column: names for column, names in found.items() if names}

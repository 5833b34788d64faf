"""The on-call workload on store.json: a leave is one more read-modify-write of the document.

Every JSON strategy guards it exactly as it guards an order (its _update), so it passes the
same pause points: a whole-file store cannot skew two rows apart, but an unguarded one
loses a leave when a stale copy of the document is written back over it.
"""

from collections.abc import Callable
from typing import Any

from servers import oncall
from servers.json_store.document import Document, Leave


def leave(doc: Document, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
    """Apply a leave to doc; return (answer, changed)."""
    done = doc.leaves.get(token)
    if done is not None:
        return oncall.answer(done.shift, done.on_call), False
    stays = oncall.decide(shift, doctor, doc.shifts.get(shift))
    doc.shifts[shift] = stays
    doc.leaves[token] = Leave(shift=shift, doctor=doctor, on_call=stays)
    return oncall.answer(shift, stays), True


class JsonOnCall:
    """shifts() and leave_shift() through a JSON store's own _read and _update guards."""

    _read: Callable[[Callable[[Document], Any]], Any]
    _update: Callable[[Callable[[Document], tuple[dict, bool]]], tuple[dict, bool]]

    def shifts(self) -> dict[str, list[str]]:
        return self._read(lambda doc: {shift: list(d) for shift, d in doc.shifts.items()})

    def leave_shift(self, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
        return self._update(lambda doc: leave(doc, shift, doctor, token))

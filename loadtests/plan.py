"""What each virtual user does next: op, sku, qty, token, shift, doctor and think time, all
from --seed."""

import itertools
import random
from bisect import bisect
from dataclasses import dataclass

from history import OPS
from racelab.exceptions import BadInput

DEFAULT_MIX = "create=70,cancel=10,get=10,list=10"
# The on-call workload: leaves race for each shift's last doctors; reads see the rota.
ONCALL_MIX = "leave=90,shifts=10"
WORKLOADS = {"orders": DEFAULT_MIX, "oncall": ONCALL_MIX}  # the first is the default


class MixError(BadInput, ValueError):
    """A --mix that does not parse; the message names it."""


def parse_mix(text: str) -> dict[str, int]:
    """Return {op: weight} for 'create=70,cancel=10,...' (weights like Locust tasks)."""
    mix = {}
    for part in text.split(","):
        op, sep, weight = part.strip().partition("=")
        if not sep or op not in OPS or not weight.isdigit():
            raise MixError(f"{part.strip()!r} is not OP=WEIGHT with OP one of {', '.join(OPS)}")
        mix[op] = int(weight)
    if not any(mix.values()):
        raise MixError(f"{text!r} gives every operation weight 0")
    return mix


def default_mix(workload: str = "orders") -> dict[str, int]:
    """Return a workload's default weights as a fresh dict (WORKLOADS is the one source)."""
    return parse_mix(WORKLOADS[workload])


@dataclass(slots=True)
class Step:
    """One planned operation: what to do and with what."""

    op: str
    sku: str
    qty: int
    token: str
    pick: float  # which earlier order a cancel or get picks, as a fraction of the list
    think: float  # seconds to wait after the operation
    shift: str | None = None  # a leave's shift and doctor, named as it is sent (ShiftClock)
    doctor: str | None = None
    doctor_pick: float = 0.0  # which doctor of the shift, as a fraction (drawn with a rota)


class Planner:
    """A seeded stream of steps: the same seed and stream id give the same steps."""

    def __init__(
        self, seed: int, stream: str, mix: dict, skus: list, qty=(1, 3), think=(0, 0), rota=None
    ):
        """rota: whether leaves are planned (a doctor is drawn for each); without one no draw
        is made for them, so an orders plan is the same whether or not the on-call workload
        exists. The shift is named as the leave is sent (ShiftClock)."""
        self._rng = random.Random(f"{seed}/{stream}")
        # Cumulative weights once, and the draw random.choices(cum_weights=...) makes, done
        # inline: the same op from the same random number, for a third of its cost.
        self._ops, self._cum_weights = list(mix), list(itertools.accumulate(mix.values()))
        self._total, self._last = self._cum_weights[-1] + 0.0, len(self._ops) - 1
        self._skus, self._qty, self._think = list(skus), qty, think
        self._qty_stop = qty[1] + 1  # randint(a, b) is randrange(a, b + 1): the same draw
        self._prefix = f"r{seed}-{stream}-"
        self._n = 0
        self._rota = bool(rota)

    def next(self) -> Step:
        """Draw the next step; every draw is made whatever the op, to keep streams aligned."""
        rng = self._rng
        self._n += 1
        op = self._ops[bisect(self._cum_weights, rng.random() * self._total, 0, self._last)]
        sku = self._skus[rng.randrange(len(self._skus))] if self._skus else "sku-1"
        qty = rng.randrange(self._qty[0], self._qty_stop)
        pick = rng.random()
        think = rng.uniform(*self._think) if self._think[1] else 0.0
        step = Step(op, sku, qty, f"{self._prefix}{self._n}", pick, think)
        if self._rota:
            step.doctor_pick = rng.random()
        return step


class ShiftClock:
    """Which shift a leave names: the one due when it is sent, the next every SLOT_S.

    A shift of two takes one leave, so a leave of a random shift would meet another leave
    of it only by luck. Every leave sent within one slot names the same shift, whichever
    user sends it, so each shift's first two leaves race however the users drift apart
    on a slow, busy machine (users that walked the shifts each at its own pace stopped
    meeting once they drifted a request apart).
    """

    SLOT_S = 0.02

    def __init__(self, rota: dict):
        self._rota = [(shift, list(doctors)) for shift, doctors in rota.items() if doctors]

    def leave(self, elapsed: float, doctor_pick: float) -> tuple[str, str]:
        """Return (shift, doctor) for a leave sent at elapsed seconds into the run."""
        shift, doctors = self._rota[int(elapsed / self.SLOT_S) % len(self._rota)]
        return shift, doctors[int(doctor_pick * len(doctors))]

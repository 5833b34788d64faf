"""What shapes one load run: the options of `racelab load`, gathered in one object."""

import sys
from dataclasses import dataclass, field

from loadtests.plan import default_mix

# The first is the default; uvloop does not run on Windows.
EVENT_LOOPS = ("asyncio",) if sys.platform == "win32" else ("uvloop", "asyncio")


@dataclass
class LoadConfig:
    """Everything that shapes one run."""

    url: str
    duration: float
    vus: int = 10
    stages: list | None = None
    rate: float | None = None
    mix: dict = field(default_factory=default_mix)
    qty: tuple = (1, 3)
    think: tuple = (0.0, 0.0)
    timeout: float = 5.0
    retries: int = 0
    seed: int = 1
    max_requests: int = 1_000_000
    client: str = "fast"
    loop: str = EVENT_LOOPS[0]
    workload: str = "orders"  # what the default mix was drawn for (loadtests.plan.WORKLOADS)
    record_reads: bool = True  # write what each read returned (the stale-read check needs it)

    def shape(self) -> dict:
        """Describe the shape for the run record and the summary."""
        model = (
            {"model": "open", "rate": self.rate, "max_vus": self.vus}
            if self.rate
            else {"model": "closed", "vus": self.vus, "stages": self.stages}
        )
        return {
            **model,
            "workload": self.workload,
            "duration_s": self.duration,
            "mix": self.mix,
            "qty": list(self.qty),
            "think_s": list(self.think),
            "timeout_s": self.timeout,
            "retries": self.retries,
            "max_requests": self.max_requests,
            "reads_recorded": self.record_reads,
        }

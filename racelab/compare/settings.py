"""What every target in one compare run gets: one dataclass, built once from the command line."""

from dataclasses import dataclass, field

from loadtests.plan import default_mix

# Virtual users by workload. On-call leaves need fewer: each user sends one leave to every
# shift, and only the first two of a shift race; ten users that start together reach each
# shift within a millisecond or so, fifty spread over far more (docs/benchmarks.md).
WORKLOAD_VUS = {"orders": 50, "oncall": 10}


@dataclass
class Settings:
    """What every target in one compare run gets."""

    vus: int = WORKLOAD_VUS["orders"]
    # Every documented failure shows within the first second; 2 s of load gives each
    # verdict thousands of contending pairs (docs/benchmarks.md, section 5).
    duration: float = 2.0
    max_requests: int = 1_000_000  # a lab sized by what must happen, not by the clock
    seed: int = 42
    skus: int = 10
    stock: int = 100_000
    threads: int = 16
    mix: dict = field(default_factory=default_mix)
    workload: str = "orders"  # what the mix was drawn for, and which guarantee is expected
    # A shift of two doctors takes one leave, so each shift is one race of its last two.
    # Users walk the shifts together (loadtests/plan.py): 100 shifts are 100 races, more
    # than the slowest target gets through in 2 s (docs/benchmarks.md, the on-call matrix).
    shifts: int = 100
    doctors: int = 2
    retries: int = 0
    timeout: float = 5.0
    faults: str | None = None  # None, "kill", "power-loss" or "retry"
    kills: int = 3
    delay: tuple | None = None  # the servers' injected delay range, seconds

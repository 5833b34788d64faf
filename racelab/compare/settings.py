"""What every target in one compare run gets: one dataclass, built once from the command line."""

from dataclasses import dataclass, field

from loadtests.plan import default_mix

# Virtual users by workload. A shift takes one leave and refuses the rest, so on-call
# users mostly send refusals: ten keep the server's queue short enough that a slot's first
# two leaves meet (at fifty, one run showed json:naive@1, json:thread-lock@4 and
# postgres:naive holding; docs/benchmarks.md has the matrix at ten).
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
    # A shift of two doctors takes one leave, so each shift is one race of its last two. A
    # leave names the shift due when it is sent, the next every 20 ms (loadtests/plan.py):
    # 100 shifts are 2 s of races before the first comes round again, refusing.
    shifts: int = 100
    doctors: int = 2
    retries: int = 0
    timeout: float = 5.0
    faults: str | None = None  # None, "kill", "power-loss" or "retry"
    kills: int = 3
    delay: tuple | None = None  # the servers' injected delay range, seconds

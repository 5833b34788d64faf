"""What every target in one compare run gets: one dataclass, built once from the command line."""

from dataclasses import dataclass, field

from loadtests.plan import default_mix


@dataclass
class Settings:
    """What every target in one compare run gets."""

    vus: int = 50
    # Every documented failure shows within the first second; 2 s of load gives each
    # verdict thousands of contending pairs (docs/benchmarks.md, section 5).
    duration: float = 2.0
    max_requests: int = 1_000_000  # a lab sized by what must happen, not by the clock
    seed: int = 42
    skus: int = 10
    stock: int = 100_000
    threads: int = 16
    mix: dict = field(default_factory=default_mix)
    retries: int = 0
    timeout: float = 5.0
    faults: str | None = None  # None, "kill", "power-loss" or "retry"
    kills: int = 3
    delay: tuple | None = None  # the servers' injected delay range, seconds

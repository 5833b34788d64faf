"""Target specs such as json:naive@4, and the matrices compare runs."""

from dataclasses import dataclass

from racelab.exceptions import BadInput
from servers.registry import STRATEGIES


class TargetSpecError(BadInput, ValueError):
    """A target spec that does not name a backend, strategy and worker count."""


@dataclass(frozen=True)
class TargetSpec:
    """One backend, strategy and number of worker processes."""

    backend: str
    strategy: str
    workers: int = 1

    @property
    def name(self) -> str:
        """Return 'backend:strategy@workers'."""
        return f"{self.backend}:{self.strategy}@{self.workers}"

    @property
    def expected(self) -> str:
        """Return the verdict the strategy claims at this worker count (held or failed)."""
        return self.expected_for("orders")

    def expected_for(self, workload: str) -> str:
        """Return the verdict the strategy claims at this worker count under a workload."""
        return STRATEGIES[self.backend][self.strategy].expected(self.workers, workload)

    @property
    def why(self) -> str:
        """Return the strategy's one sentence on why it holds or fails."""
        return STRATEGIES[self.backend][self.strategy].why

    @property
    def claims(self) -> str:
        """Return the guarantee the strategy claims, in a phrase."""
        return STRATEGIES[self.backend][self.strategy].claims

    @property
    def slug(self) -> str:
        """Return a folder name for this target."""
        return f"{self.backend}-{self.strategy}-{self.workers}w"


def parse_spec(text: str, default_workers: int = 1) -> TargetSpec:
    """Return the spec for 'json:naive', 'sqlite:transactional@4'."""
    body, _, workers = text.strip().partition("@")
    backend, sep, strategy = body.partition(":")
    if not sep or backend not in STRATEGIES or strategy not in STRATEGIES[backend]:
        known = ", ".join(f"{b}:{s}" for b, names in STRATEGIES.items() for s in names)
        raise TargetSpecError(f"{text!r} is not BACKEND:STRATEGY[@WORKERS] (known: {known})")
    if workers and (not workers.isdigit() or not 1 <= int(workers) <= 64):
        raise TargetSpecError(f"{text!r}: the worker count after @ must be 1 to 64")
    return TargetSpec(backend, strategy, int(workers) if workers else default_workers)


def parse_specs(text: str) -> list[TargetSpec]:
    """Return the specs in a comma-separated list."""
    return [parse_spec(part) for part in text.split(",") if part.strip()]


MATRICES = {
    # The mitigation ladder: each rung fixes what broke the one before, or seems to.
    "ladder": parse_specs(
        "json:naive@1,json:thread-lock@1,json:thread-lock@4,json:optimistic@4,"
        "json:file-lock@4,sqlite:naive@4,sqlite:transactional@4"
    ),
    # Hermitage's lost-update row on a database server: the habit at READ COMMITTED, then
    # each isolation level and each fix, at 4 worker processes.
    "postgres": parse_specs(
        "postgres:naive@4,postgres:repeatable-read@4,postgres:serializable@4,"
        "postgres:for-update@4,postgres:transactional@4"
    ),
    # The original classroom demo: data.json against SQLite.
    "seed": parse_specs("json:naive@1,sqlite:transactional@1"),
    "full": [
        TargetSpec(backend, strategy, workers)
        for backend, names in STRATEGIES.items()
        for strategy in names
        for workers in (1, 4)
    ],
}

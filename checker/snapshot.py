"""What a store holds, as far as it could be read: the shape every reader fills."""

from dataclasses import dataclass, field

from checker.orders import Orders


@dataclass
class Snapshot:
    """What a store holds, as far as it could be read."""

    path: str
    backend: str | None = None
    items: dict | None = None
    # Well-formed orders, read as (id, sku, qty, token) tuples, held as columns (millions).
    orders: Orders = field(default_factory=Orders)
    # Orders with missing or ill-typed fields, as they were found.
    malformed: list = field(default_factory=list)
    corruption: str | None = None
    unreadable: str | None = None  # why nothing could be read (a server's final reads failed)
    shifts: dict | None = None  # who is on call, by shift ({}: no rota; None: not read)

    @property
    def readable(self) -> bool:
        """Say whether any orders or items could be read."""
        return self.unreadable is None and (self.items is not None or bool(self.orders))

    @property
    def through_api(self) -> bool:
        """Say whether the state was read through the HTTP API rather than from a file."""
        return self.backend == "api"


def is_int(value) -> bool:
    """Say whether value is an int and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)

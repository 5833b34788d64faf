"""A strategy as the list of strategies knows it: plain data, and where its code lives.

The list (servers/registry.py) feeds `racelab serve --help`, compare's targets, the OpenAPI
document, the docs and the tests; none of them needs a strategy's code, so that code, and
the database library it imports, is loaded only when a store of it is set up or opened.
"""

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from servers.stepping import COMMON_POINTS

if TYPE_CHECKING:
    from servers.storage import Store


@dataclass(frozen=True)
class Strategy:
    """One backend's locking strategy: what it claims, where it holds, and its class."""

    name: str  # its name on the command line
    code: str  # "module:Class", the Store subclass that implements it
    # The guarantee it claims, in a phrase; what it gives is measured (docs/contract.md).
    claims: str
    # One sentence: the mechanism by which it holds or fails under concurrent writes.
    why: str
    # The most worker processes it holds at: 0 never holds, None holds at any count.
    holds_up_to: int | None = 0
    # The same for the on-call leaves, whose rule spans the rows of a shift.
    oncall_holds_up_to: int | None = 0
    # The pause points its write paths pass, in order (servers/stepping.py): a step
    # SESSION.POINT lets a paused request do what comes after POINT, up to its next one.
    pause_points: tuple[str, ...] = COMMON_POINTS

    def expected(self, workers: int, workload: str = "orders") -> str:
        """Return the verdict this strategy should get under concurrent writes at workers.

        workload "oncall": the leaves of one shift, whose rule spans rows; a strategy whose
        guard is per row holds the leaves at fewer workers than the orders.
        """
        limit = self.oncall_holds_up_to if workload == "oncall" else self.holds_up_to
        return "held" if limit is None or workers <= limit else "failed"

    def store_class(self) -> type["Store"]:
        """Import the strategy's code and return its Store class."""
        module, name = self.code.split(":")
        return getattr(importlib.import_module(module), name)


def by_name(*strategies: Strategy) -> dict[str, Strategy]:
    """Return the strategies by name, in the order given (the ladder's and the docs')."""
    return {strategy.name: strategy for strategy in strategies}

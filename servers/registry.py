"""The one list of strategies, by backend; find one, set up and open its stores.

The list is plain data (servers/strategy.py): a strategy's code, and the database library
it needs, is imported only when a store of it is set up or opened, so a json server never
loads SQLAlchemy, nor a sqlite server the PostgreSQL modules.
"""

from pathlib import Path

from servers import json_store, postgres_store, sqlite_store
from servers.oncall import DOCTORS_DEFAULT, SHIFTS_DEFAULT
from servers.storage import Store
from servers.strategy import Strategy

STRATEGIES: dict[str, dict[str, Strategy]] = {
    "json": json_store.STRATEGIES,
    "sqlite": sqlite_store.STRATEGIES,
    "postgres": postgres_store.STRATEGIES,
}


def find_strategy(backend: str, strategy: str) -> Strategy:
    """Return backend's strategy by name, or raise KeyError naming both."""
    try:
        return STRATEGIES[backend][strategy]
    except KeyError:
        raise KeyError(f"no strategy {strategy!r} for backend {backend!r}") from None


def store_class(backend: str, strategy: str) -> type[Store]:
    """Return the class for backend and strategy (importing its code), or raise KeyError."""
    return find_strategy(backend, strategy).store_class()


def init_store(
    backend: str, strategy: str, data_dir, reset=False, skus=5, stock=1000,
    shifts=SHIFTS_DEFAULT, doctors=DOCTORS_DEFAULT,
) -> Path:  # fmt: skip
    """Create the data dir and a seeded store in it unless one exists; return its path."""
    cls = store_class(backend, strategy)
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    cls.initialize(data_dir, reset=reset, skus=skus, stock=stock, shifts=shifts, doctors=doctors)
    return Path(data_dir) / cls.filename


def open_store(backend: str, strategy: str, data_dir) -> Store:
    """Open an existing store with the given strategy."""
    return store_class(backend, strategy)(data_dir)

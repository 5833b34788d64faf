"""Find a strategy by backend and name; set up and open stores."""

from pathlib import Path

from servers import json_store, postgres_store, sqlite_store
from servers.oncall import DOCTORS_DEFAULT, SHIFTS_DEFAULT
from servers.storage import Store

STRATEGIES: dict[str, dict[str, type[Store]]] = {
    "json": json_store.STRATEGIES,
    "sqlite": sqlite_store.STRATEGIES,
    "postgres": postgres_store.STRATEGIES,
}


def strategy_names(backend: str) -> list[str]:
    """Return the strategy names a backend offers."""
    return list(STRATEGIES[backend])


def store_class(backend: str, strategy: str) -> type[Store]:
    """Return the class for backend and strategy, or raise KeyError naming both."""
    try:
        return STRATEGIES[backend][strategy]
    except KeyError:
        raise KeyError(f"no strategy {strategy!r} for backend {backend!r}") from None


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

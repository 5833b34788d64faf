"""The two racelab targets: one HTTP contract, two stores, several strategies."""

from servers.app import create_app
from servers.registry import STRATEGIES, init_store, open_store, strategy_names

__all__ = ["STRATEGIES", "create_app", "init_store", "open_store", "strategy_names"]

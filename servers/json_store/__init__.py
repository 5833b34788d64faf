"""The JSON-file target: one store.json, rewritten on every write."""

from servers.json_store.strategies import STRATEGIES

__all__ = ["STRATEGIES"]

"""The SQLite target: store.db through SQLAlchemy, ids assigned by the database."""

from servers.sqlite_store.strategies import STRATEGIES

__all__ = ["STRATEGIES"]

"""The SQLite target: store.db through SQLAlchemy, ids assigned by the database."""

from servers.sqlite_store.strategies import NaiveSqliteStore, TransactionalSqliteStore

STRATEGIES = {cls.strategy: cls for cls in (NaiveSqliteStore, TransactionalSqliteStore)}

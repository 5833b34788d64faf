"""The PostgreSQL target: a database server through SQLAlchemy and psycopg 3."""

from servers.postgres_store.strategies import STRATEGIES

__all__ = ["STRATEGIES"]

"""The SQLite target: store.db through SQLAlchemy, ids assigned by the database.

Its strategies as the list knows them; their code, and SQLAlchemy with it, is in
strategies.py, imported only when a store opens.
"""

from servers.strategy import Strategy, by_name

STRATEGIES = by_name(
    Strategy(
        "naive",
        "servers.sqlite_store.strategies:NaiveSqliteStore",
        claims="a real database: every statement is atomic",
        why="stock is read, computed in Python and written back in separate statements: "
        "concurrent orders overwrite each other's stock (a lost update), even on a real "
        "database.",
    ),
    Strategy(
        "transactional",
        "servers.sqlite_store.strategies:TransactionalSqliteStore",
        claims="serializable writes: BEGIN IMMEDIATE, a conditional update, a unique token",
        why="BEGIN IMMEDIATE with a conditional update should hold; a failure here is a bug "
        "worth reporting.",
        holds_up_to=None,
        oncall_holds_up_to=None,  # the whole leave inside the writer queue and BEGIN IMMEDIATE
        pause_points=("lock", "read", "write", "commit"),
    ),
)

__all__ = ["STRATEGIES"]

"""The PostgreSQL target: a database server through SQLAlchemy and psycopg 3.

Its strategies as the list knows them; their code, and SQLAlchemy, psycopg and the private
server's cluster with it, is in strategies.py, imported only when a store opens.
"""

from servers.strategy import Strategy, by_name

POINTS = ("read", "write", "commit")

STRATEGIES = by_name(
    Strategy(
        "naive",
        "servers.postgres_store.strategies:NaivePostgresStore",
        claims="a real database server: every statement is atomic",
        why="stock is read, computed in Python and written back in separate statements: at "
        "READ COMMITTED concurrent orders overwrite each other's stock (a lost update).",
    ),
    Strategy(
        "repeatable-read",
        "servers.postgres_store.strategies:RepeatableReadPostgresStore",
        claims="snapshot isolation (first updater wins) and a unique token",
        why="the second writer of a row read in its snapshot is aborted (SQLSTATE 40001), so "
        "a lost update becomes a 503 busy that the client must resend; nothing is lost.",
        holds_up_to=None,
        oncall_holds_up_to=0,  # both leaves read one snapshot, write two rows: no conflict
        pause_points=POINTS,
    ),
    Strategy(
        "serializable",
        "servers.postgres_store.strategies:SerializablePostgresStore",
        claims="serializable: as if the transactions ran one at a time; a unique token",
        why="PostgreSQL aborts any transaction that could not have run one at a time "
        "(SQLSTATE 40001) and the strategy retries it whole, so the naive code holds.",
        holds_up_to=None,
        oncall_holds_up_to=None,
        pause_points=POINTS,
    ),
    Strategy(
        "for-update",
        "servers.postgres_store.strategies:ForUpdatePostgresStore",
        claims="a row lock (SELECT ... FOR UPDATE) before reading the stock; a unique token",
        why="the item's row is locked before its stock is read, so a second order waits for "
        "the first to commit and then reads what it left; the token is checked under it.",
        holds_up_to=None,
        oncall_holds_up_to=None,  # the shift's rows are locked before they are read
        pause_points=POINTS,
    ),
    Strategy(
        "transactional",
        "servers.postgres_store.strategies:TransactionalPostgresStore",
        claims="a conditional update and a unique token, at READ COMMITTED",
        why="UPDATE ... WHERE stock >= qty decides and writes in one statement; a concurrent "
        "one waits for the row and re-checks the condition; a unique token stops a duplicate.",
        holds_up_to=None,
        oncall_holds_up_to=0,  # the count is read from a snapshot; only the deleted row is locked
        pause_points=POINTS,
    ),
)

__all__ = ["STRATEGIES"]

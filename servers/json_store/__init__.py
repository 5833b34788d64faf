"""The JSON-file target: one store.json, rewritten on every write.

Its strategies as the list knows them; their code is in strategies.py. A leave is guarded
as an order is, so each holds the on-call rota where it holds the stock.
"""

from servers.strategy import Strategy, by_name

STRATEGIES = by_name(
    Strategy(
        "naive",
        "servers.json_store.strategies:NaiveJsonStore",
        claims="nothing: read the file, change it, write it back",
        why="no lock at all: concurrent read-modify-writes of one file overwrite each other, "
        "and a shorter document written over a longer one leaves garbage behind.",
        pause_points=("read", "write", "truncated"),
    ),
    Strategy(
        "thread-lock",
        "servers.json_store.strategies:ThreadLockJsonStore",
        claims="one writer at a time (a mutex), so writes are serializable",
        why="thread-lock holds one process; several processes each hold their own lock, so "
        "their writes interleave as if there were none.",
        holds_up_to=1,
        oncall_holds_up_to=1,
        pause_points=("lock", "read", "write", "truncated"),
    ),
    Strategy(
        "file-lock",
        "servers.json_store.strategies:FileLockJsonStore",
        claims="one writer at a time across processes (flock), and an atomic replace",
        why="an OS file lock and an atomic replace should hold; a failure here is a bug worth "
        "reporting.",
        holds_up_to=None,
        oncall_holds_up_to=None,
        pause_points=("lock", "read", "write"),
    ),
    Strategy(
        "optimistic",
        "servers.json_store.strategies:OptimisticJsonStore",
        claims="no lost updates: a write is refused when the version moved",
        why="the version check and the write are two steps: writers that check the same "
        "version all pass, and the last replace erases the others' writes.",
        pause_points=("read", "check", "write"),
    ),
)

__all__ = ["STRATEGIES"]

"""The JSON-file target: one store.json, rewritten on every write."""

from servers.json_store.strategies import (
    FileLockJsonStore,
    NaiveJsonStore,
    OptimisticJsonStore,
    ThreadLockJsonStore,
)

STRATEGIES = {
    cls.strategy: cls
    for cls in (NaiveJsonStore, ThreadLockJsonStore, FileLockJsonStore, OptimisticJsonStore)
}

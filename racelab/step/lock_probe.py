"""Ask a stepped PostgreSQL target how many of its clients wait for a lock, as isolationtester does.

A row lock is taken inside PostgreSQL, where no wait notice can be sent from, so the
scheduler asks the server itself: a request released into `SELECT ... FOR UPDATE` on a row
another session holds shows in pg_locks as a lock not granted. The lock is granted by the
holder's COMMIT before that COMMIT returns, so once the holder's step is over the count no
longer includes its waiter.
"""

import contextlib
from pathlib import Path

import pgcluster

PRIVATE_DIR = "pgdata"  # where `racelab serve postgres` keeps its private server
CONNECT_TIMEOUT_S = 5
WAITING = """
    SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE NOT l.granted AND a.datname = current_database() AND a.pid <> pg_backend_pid()
"""


class LockProbe:
    """One connection to a target's private PostgreSQL, counting its clients' lock waits."""

    def __init__(self, connection):
        self.connection = connection

    def __call__(self) -> int:
        """Return how many of the database's other clients wait for a lock now."""
        return self.connection.execute(WAITING).fetchone()[0]

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(Exception):
            self.connection.close()


def lock_probe(data_dir) -> LockProbe | None:
    """Return a probe of the private PostgreSQL serving data_dir, or None if there is none."""
    socket_dir = pgcluster.running_socket_dir(Path(data_dir) / PRIVATE_DIR)
    if socket_dir is None:
        return None
    import psycopg  # noqa: PLC0415 - a fifth of a second, for PostgreSQL targets only

    try:
        connection = psycopg.connect(
            pgcluster.conninfo(socket_dir), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
    except psycopg.Error:
        return None
    return LockProbe(connection)

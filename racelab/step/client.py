"""What the step runner holds open to a target: each session's HTTP connection, kept open
across its requests, and for a PostgreSQL target a lock probe.

The probe asks the server how many of its clients wait for a lock, as isolationtester does.
A row lock is taken inside PostgreSQL, where no wait notice can be sent from, so the
scheduler asks the server itself: a request released into `SELECT ... FOR UPDATE` on a row
another session holds shows in pg_locks as a lock not granted. The lock is granted by the
holder's COMMIT before that COMMIT returns, so once the holder's step is over the count no
longer includes its waiter.
"""

import collections
import contextlib
import http.client
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import pgcluster
from racelab.compare.process import TargetFailed
from servers.stepping import SESSION_HEADER, WORKER_HEADER

REQUEST_LIMIT_S = 60.0  # as long as a held request may wait: a permutation's whole bound
# How long a session may look for a worker process of its own: a busy machine's workers
# may leave every new connection to one of them for a while.
PIN_LIMIT_S = 10.0
SPARE_CONNECTIONS = 40  # held at once while looking; then one try each PIN_PAUSE_S
PIN_PAUSE_S = 0.02
PRIVATE_DIR = "pgdata"  # where `racelab serve postgres` keeps its private server
PROBE_CONNECT_TIMEOUT_S = 5
WAITING = """
    SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE NOT l.granted AND a.datname = current_database() AND a.pid <> pg_backend_pid()
"""


class Client:
    """One session's HTTP connection, kept open so a worker process keeps serving it."""

    def __init__(self, url: str, session: str):
        parts = urlsplit(url)
        if parts.hostname is None:  # racelab's own URLs always name 127.0.0.1
            raise ValueError(f"not a server's URL: {url!r}")
        self.host, self.port, self.session = parts.hostname, parts.port, session
        self.conn = self._open()

    def _open(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_LIMIT_S)

    def send(self, method: str, path: str,
             body: dict | None = None) -> tuple[int | None, dict | None, int | None]:  # fmt: skip
        """Send one request; return (status, JSON body or None, the pid that served it)."""
        headers = {"Content-Type": "application/json"}
        if self.session:  # setup requests name no session: they never pause
            headers[SESSION_HEADER] = self.session
        try:
            self.conn.request(method, path, json.dumps(body) if body else None, headers)
            response = self.conn.getresponse()
            raw = response.read()
        except OSError:
            self.conn.close()
            return None, None, None
        pid = response.getheader(WORKER_HEADER)
        return response.status, _json(raw), int(pid) if pid else None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def pin_to_a_new_worker(self, taken: set[int]) -> int | None:
        """Reconnect until this connection is served by a process no other session uses;
        return its pid (None: the server does not say). Raise WorkerNotFound after
        PIN_LIMIT_S, rather than let two sessions share a process unknowingly."""
        spare: collections.deque = collections.deque()
        deadline = time.monotonic() + PIN_LIMIT_S
        try:
            while True:
                _, _, pid = self.send("GET", "/health")
                if pid is None or pid not in taken:
                    return pid
                if time.monotonic() > deadline:
                    raise WorkerNotFound(f"no worker process but {sorted(taken)} took a new "
                                         f"connection in {PIN_LIMIT_S:g} s")  # fmt: skip
                spare.append(self.conn)  # held open, so the next connect lands elsewhere
                if len(spare) > SPARE_CONNECTIONS:  # the others' turn to accept, if busy
                    spare.popleft().close()
                    time.sleep(PIN_PAUSE_S)
                self.conn = self._open()
        finally:
            for conn in spare:  # closed however it ends: found a worker, or gave up
                conn.close()


class WorkerNotFound(TargetFailed):
    """No worker process but those other sessions use took a session's connection."""


def _json(raw: bytes) -> dict | None:
    """Return the JSON object a body holds (every contract answer is one), else None."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


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
            pgcluster.conninfo(socket_dir), autocommit=True, connect_timeout=PROBE_CONNECT_TIMEOUT_S
        )
    except psycopg.Error:
        return None
    return LockProbe(connection)

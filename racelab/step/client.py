"""One stepped session's HTTP connection to the server, kept open across its requests."""

import http.client
import json
from urllib.parse import urlsplit

from servers.stepping import SESSION_HEADER, WORKER_HEADER

REQUEST_LIMIT_S = 60.0  # as long as a held request may wait: a permutation's whole bound
DISTINCT_WORKER_TRIES = 40


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
        """Reconnect until this connection is served by a process no other session uses."""
        spare = []
        try:
            for _ in range(DISTINCT_WORKER_TRIES):
                _, _, pid = self.send("GET", "/health")
                if pid is None or pid not in taken:
                    return pid
                spare.append(self.conn)  # held open, so the next connect lands elsewhere
                self.conn = self._open()
            return None
        finally:
            for conn in spare:  # closed however it ends: found a worker, or gave up
                conn.close()


def _json(raw: bytes) -> dict | None:
    """Return the JSON object a body holds (every contract answer is one), else None."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return None
    return body if isinstance(body, dict) else None

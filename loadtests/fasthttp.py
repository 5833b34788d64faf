"""A lean HTTP/1.1 client for the load generator: keep-alive connections, httptools parsing.

Why not aiohttp on the hot path: measured here (docs/benchmarks.md), aiohttp alone spends
0.074 ms of CPU a request, more than racelab's whole budget (1.5x k6's 0.041 ms). This
client does only what racelab's five requests need: one request at a time per connection,
small bodies, answers framed by Content-Length or chunked (llhttp, via httptools, parses
them). It never resends a request, so the history can say exactly what was sent.
"""

import asyncio
import ssl
from urllib.parse import urlsplit

import httptools

USER_AGENT = "racelab"
FRAMING_HEADERS = (b"content-length", b"transfer-encoding")


class ConnectError(Exception):
    """The connection could not be made: the request was never sent."""


class Timeout(Exception):
    """No complete answer within the timeout: the request may or may not have run."""


class Broken(Exception):
    """The connection broke or the answer was not HTTP: the request may or may not have run."""


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self):
        self.transport = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.body: list[bytes] = []
        self.closed = False
        self.keep_alive = True
        self.framed = False  # the answer says where it ends (Content-Length or chunked)
        self.status = None  # set once the answer's headers are in

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: this connection cannot be trusted
            self._break(Broken("unsolicited bytes"))
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._break(Broken(f"not HTTP ({type(e).__name__})"))

    def on_header(self, name: bytes, _value: bytes) -> None:
        if name.lower() in FRAMING_HEADERS:
            self.framed = True

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        self._answer()

    def _answer(self) -> None:
        answer = (self.status, b"".join(self.body))
        self.body, self.status, self.framed = [], None, False
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def connection_lost(self, exc) -> None:
        self.closed = True
        if exc is None and self.status is not None and not self.framed:
            self._answer()  # an answer with no length ends where the connection does
        else:
            self._settle(Broken("connection closed" if exc is None else type(exc).__name__))

    def _break(self, error: Exception) -> None:
        self._settle(error)
        self.transport.abort()

    def _settle(self, error: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)


class Pool:
    """Keep-alive connections to one origin, shared by every virtual user.

    A connection is taken for one request and put back if the answer allowed keep-alive,
    so the pool never holds more connections than requests in flight at once (the
    runner bounds those by its virtual users).
    """

    def __init__(self, base_url: str, timeout: float):
        parts = urlsplit(base_url)
        self.host, self.timeout = parts.hostname, timeout
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self.base_path = parts.path.rstrip("/")
        self._head = f"HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: {USER_AGENT}\r\n"
        self._idle: list[Connection] = []

    async def request(self, method: str, path: str, body: bytes | None = None):
        """Send one request; return (status, body bytes) or raise ConnectError/Timeout/Broken."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        # No coroutine for the usual case, an idle connection: only a new one is awaited.
        conn = self._idle_connection() or await self._connect(loop)
        waiter = conn.waiter = loop.create_future()
        timer = loop.call_at(deadline, _expire, conn, waiter)
        try:
            conn.transport.write(self._encode(method, path, body))
            status, answer = await waiter
        except BaseException:
            conn.transport.abort()  # a half-done exchange: the connection is not reusable
            raise
        finally:
            timer.cancel()
        if conn.keep_alive and not conn.closed:
            self._idle.append(conn)
        else:
            conn.transport.close()
        return status, answer

    def _encode(self, method: str, path: str, body: bytes | None) -> bytes:
        line = f"{method} {self.base_path}{path} {self._head}"
        if body is None:
            return f"{line}\r\n".encode()
        length = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        return f"{line}{length}".encode() + body

    def _idle_connection(self) -> "Connection | None":
        """Return an idle open connection, or None."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        return None

    async def _connect(self, loop) -> Connection:
        """Open a new connection (ConnectError if it cannot)."""
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(Connection, self.host, self.port, ssl=self.ssl),
                self.timeout,
            )
        except (OSError, asyncio.TimeoutError) as e:
            raise ConnectError(type(e).__name__) from None
        return conn

    def close(self) -> None:
        """Close every idle connection."""
        for conn in self._idle:
            conn.transport.close()
        self._idle.clear()


def _expire(conn: Connection, waiter: asyncio.Future) -> None:
    if conn.waiter is waiter:
        conn.waiter = None
    if not waiter.done():
        waiter.set_exception(Timeout())

"""A lean HTTP/1.1 client for the load generator: keep-alive connections, httptools parsing.

Why not aiohttp on the hot path: measured here (docs/benchmarks.md), aiohttp alone spends
0.074 ms of CPU a request, more than racelab's whole budget (1.5x k6's 0.041 ms). This
client does only what racelab's five requests need: one request at a time per connection,
small bodies, answers framed by Content-Length or chunked (llhttp, via httptools, parses
them). It never resends a request, so the history can say exactly what was sent.

A request ends in a callback, not an awaited future: a task, a future and their wake-ups
for every request cost the load generator about a seventh of its CPU (docs/benchmarks.md).
`Pool.request` wraps the callback for code that prefers to await.
"""

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

import httptools

from racelab.exceptions import RacelabError

USER_AGENT = "racelab"
FRAMING_HEADERS = (b"content-length", b"transfer-encoding")
# How a request ends: done(status, body, None) with an answer, done(None, None, error) without.
Done = Callable[[int | None, bytes | None, Exception | None], None]


class ConnectError(RacelabError):
    """The connection could not be made: the request was never sent."""


class Timeout(RacelabError):
    """No complete answer within the timeout: the request may or may not have run."""


class ConnectionBroken(RacelabError):
    """The connection broke or the answer was not HTTP: the request may or may not have run."""


class Ended(RacelabError):
    """The run ended with the request in flight: it may or may not have run."""


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    transport: asyncio.Transport  # set by connection_made, before the pool hands it out

    def __init__(self, pool: "Pool"):
        self.pool = pool
        self.parser = httptools.HttpResponseParser(self)
        self.done: Done | None = None  # the callback of the request in flight, if any
        self.timer: asyncio.TimerHandle | None = None  # its timeout
        self.serial = 0  # how many requests it has carried: names the one in flight
        self.body: list[bytes] = []
        self.closed = False
        self.keep_alive = True
        self.framed = False  # the answer says where it ends (Content-Length or chunked)
        self.status: int | None = None  # set once the answer's headers are in

    def connection_made(self, transport) -> None:
        self.transport = transport

    def start(self, data: bytes, done: Done, timer: asyncio.TimerHandle | None = None) -> None:
        """Send one request's bytes; done(status, body, error) is called once when it ends."""
        self.done, self.timer = done, timer
        self.serial += 1
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        if self.done is None:  # bytes nobody asked for: this connection cannot be trusted
            self.fail(ConnectionBroken("unsolicited bytes"))
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self.fail(ConnectionBroken(f"not HTTP ({type(e).__name__})"))

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
        status, body = self.status, b"".join(self.body)
        self.body, self.status, self.framed = [], None, False
        done, self.done = self.done, None
        if done is not None:
            if self.timer is not None:
                self.timer.cancel()
            self.pool.release(self)  # first, so that done can send its next request on it
            done(status, body, None)

    def connection_lost(self, exc) -> None:
        self.closed = True
        if exc is None and self.status is not None and not self.framed:
            self._answer()  # an answer with no length ends where the connection does
        else:
            why = "connection closed" if exc is None else type(exc).__name__
            self._settle(ConnectionBroken(why))

    def fail(self, error: Exception) -> None:
        """End the request in flight with error; the connection is not reusable after it."""
        self._settle(error)
        self.transport.abort()

    def _settle(self, error: Exception) -> None:
        done, self.done = self.done, None
        if done is not None:
            if self.timer is not None:
                self.timer.cancel()
            self.pool.forget(self)
            done(None, None, error)


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
        self._busy: set[Connection] = set()
        self._connecting: set[asyncio.Task] = set()
        # Requests on a reused connection, oldest first: (deadline, connection, serial). They
        # share one timer, set for the oldest; a timer each cost 3% of the generator's CPU.
        self._deadlines: deque = deque()
        self._sweep: asyncio.TimerHandle | None = None

    def send(self, method: str, path: str, body: bytes | None, done) -> None:
        """Send one request; call done(status, body, None) or done(None, None, error) once.

        error is ConnectError (never sent), Timeout, ConnectionBroken or Ended (may have run).
        done is always called later, from the event loop, never from inside send.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        data = self._encode(method, path, body)
        conn = self._idle_connection()
        if conn is None:
            task = loop.create_task(self._connect_and_send(loop, data, done, deadline))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)
        else:
            self._busy.add(conn)
            conn.start(data, done)
            self._deadlines.append((deadline, conn, conn.serial))
            if self._sweep is None:
                self._sweep = loop.call_at(deadline, self._expire_due)

    async def request(self, method: str, path: str, body: bytes | None = None):
        """Send one request; return (status, body bytes) or raise ConnectError, Timeout or
        ConnectionBroken."""
        waiter = asyncio.get_running_loop().create_future()

        def settle(status, answer, error):
            if not waiter.done():
                waiter.set_result((status, answer, error))

        self.send(method, path, body, settle)
        status, answer, error = await waiter
        if error is not None:
            raise error
        return status, answer

    def _expire_due(self) -> None:
        """Time out every request past its deadline; set the timer for the next one."""
        loop, deadlines = asyncio.get_running_loop(), self._deadlines
        while deadlines:
            deadline, conn, serial = deadlines[0]
            pending = conn.serial == serial and conn.done is not None
            if pending and deadline > loop.time():
                self._sweep = loop.call_at(deadline, self._expire_due)
                return
            deadlines.popleft()
            if pending:
                conn.fail(Timeout())
        self._sweep = None

    async def _connect_and_send(self, loop, data: bytes, done, deadline: float) -> None:
        try:
            conn = await self._connect(loop)
        except ConnectError as e:
            done(None, None, e)
            return
        except asyncio.CancelledError:  # end_all: the run ended while connecting
            done(None, None, Ended("run ended"))
            return
        # Its deadline may be earlier than those queued since it began connecting: a timer.
        self._busy.add(conn)
        conn.start(data, done, loop.call_at(deadline, _expire, conn, done))

    def release(self, conn: Connection) -> None:
        """Take back a connection whose answer is in: idle if it may be reused, else closed."""
        self._busy.discard(conn)
        if conn.keep_alive and not conn.closed:
            self._idle.append(conn)
        else:
            conn.transport.close()

    def forget(self, conn: Connection) -> None:
        """Drop a connection whose request failed."""
        self._busy.discard(conn)

    def end_all(self) -> None:
        """End every request in flight, connecting ones included, with Ended."""
        for conn in list(self._busy):
            conn.fail(Ended("run ended"))
        for task in list(self._connecting):
            task.cancel()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self._deadlines.clear()

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
                loop.create_connection(
                    lambda: Connection(self), self.host, self.port, ssl=self.ssl
                ),
                self.timeout,
            )
        except (OSError, asyncio.TimeoutError) as e:
            raise ConnectError(type(e).__name__) from None
        return conn

    def close(self) -> None:
        """Close every idle connection."""
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for conn in self._idle:
            conn.transport.close()
        self._idle.clear()


def _expire(conn: Connection, done) -> None:
    if conn.done is done:
        conn.fail(Timeout())

"""How long a request may take to arrive, and how many connections a server process serves.

A client that sends half a request and stops would otherwise hold a server thread for as
long as it likes; a few of them stop a small thread pool. Both HTTP layers (the one
threaded process and the gunicorn workers) read each connection through an ArrivalSocket:
once a request's first byte is in, the rest of it (headers and body) must follow within
ARRIVAL_S, or the answer is 408 `timeout` and the connection closes.
"""

import io
import socket
import time

from servers.errors import Invalid, RequestTimeout

ARRIVAL_S = 5.0  # from a request's first byte to its last: loopback clients need microseconds
KEEPALIVE_S = 30  # how long an idle connection (no request begun) may stay open
# Answers on one connection before it is closed (as nginx's keepalive_requests does): a
# connection stays with the worker process that accepted it, and a load's connections,
# accepted in a burst, can all land on one; closing each now and then deals them again.
KEEPALIVE_REQUESTS = 20
MAX_CONNECTIONS = 512  # per server process; more wait in the listen backlog


class ArrivalSocket:
    """A socket whose blocking reads end at the current request's arrival deadline.

    Reads made with a timeout of their caller's own (a drain before closing) keep it and
    time out as sockets do; the parser's and the app's blocking reads raise RequestTimeout.
    Bytes read ahead (`preload`) are returned before the socket is read again.
    """

    def __init__(self, sock: socket.socket, arrival_s=ARRIVAL_S, idle_s=KEEPALIVE_S):
        self.raw = sock
        self.arrival_s = arrival_s
        self.idle_s = idle_s
        self.deadline = None  # set by the request's first byte
        self.answered = False  # an answer was written: later reads are a drain, not arrival
        self._timeout = sock.gettimeout()
        self.preloaded = b""

    def __getattr__(self, name):
        return getattr(self.raw, name)

    def begin(self) -> None:
        """Start waiting for the next request on this connection."""
        self.deadline = None
        self.answered = False

    def arrived(self) -> None:
        """Note that the current request's first byte is in: its deadline starts now."""
        if self.deadline is None:
            self.deadline = time.monotonic() + self.arrival_s

    def preload(self, data: bytes) -> None:
        """Keep bytes read ahead, to be returned by the next reads."""
        self.preloaded += data

    def settimeout(self, value) -> None:
        """Set the caller's own timeout (None: blocking until the arrival deadline)."""
        self._timeout = value
        self.raw.settimeout(value)

    def setblocking(self, flag: bool) -> None:
        """Switch between blocking (bounded by the deadline) and non-blocking reads."""
        self.settimeout(None if flag else 0.0)

    def makefile(self, mode="rb", buffering=None, **_):
        """Return a buffered reader of this socket (StreamRequestHandler's rfile)."""
        return io.BufferedReader(_Reader(self))

    def gettimeout(self):
        """Return the caller's own timeout."""
        return self._timeout

    def recv(self, size: int) -> bytes:
        """Read up to size bytes, at the latest by the deadline."""
        if self.preloaded:
            data, self.preloaded = self.preloaded[:size], self.preloaded[size:]
            return data
        return self._bounded(lambda: self.raw.recv(size), b"")

    def recv_into(self, buffer) -> int:
        """Read into buffer, at the latest by the deadline."""
        if self.preloaded:
            data = self.recv(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        return self._bounded(lambda: self.raw.recv_into(buffer), 0)

    def sendall(self, data) -> None:
        """Write data; the request is answered."""
        self.answered = True
        self.raw.sendall(data)

    def send(self, data) -> int:
        """Write some of data; the request is answered."""
        self.answered = True
        return self.raw.send(data)

    def _bounded(self, read, nothing):
        """Call read() with the timeout the deadline leaves; nothing: what EOF reads as."""
        if self._timeout == 0.0:
            return read()  # a non-blocking read: the caller polls
        idle = self.deadline is None and not self.answered
        limit, own = self._limit(idle)
        self.raw.settimeout(limit)
        try:
            got = read()
        except TimeoutError:
            if own or self.answered:
                raise
            if idle:
                return nothing  # no request begun: the connection ends quietly
            raise RequestTimeout(
                f"The request did not arrive within {self.arrival_s:g} s of its first byte."
            ) from None
        finally:
            self.raw.settimeout(self._timeout)
        if got and idle:
            self.arrived()
        return got

    def _limit(self, idle: bool) -> tuple[float | None, bool]:
        """Return (timeout for the next read, whether it is the caller's own)."""
        if idle:
            bound = self.idle_s
        elif self.deadline is None:
            bound = None
        else:
            bound = max(self.deadline - time.monotonic(), 1e-6)
        if self._timeout is not None and (bound is None or self._timeout <= bound):
            return self._timeout, True
        return bound, False


class _Reader(io.RawIOBase):
    """The raw stream under a buffered reader of an ArrivalSocket."""

    def __init__(self, sock: ArrivalSocket):
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        """Say this stream reads."""
        return True

    def readinto(self, buffer) -> int:
        """Read from the socket into buffer."""
        return self._sock.recv_into(buffer)


class FramedBody:
    """A request body whose framing errors (a malformed chunk) are the client's: 400 invalid."""

    def __init__(self, body, framing_errors: tuple[type[BaseException], ...]):
        self._body = body
        self._errors = framing_errors

    def __getattr__(self, name):
        return getattr(self._body, name)

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def read(self, *args) -> bytes:
        """Read the body."""
        return self._framed(self._body.read, *args)

    def readline(self, *args) -> bytes:
        """Read a line of the body."""
        return self._framed(self._body.readline, *args)

    def readinto(self, buffer) -> int:
        """Read the body into buffer."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _framed(self, read, *args):
        try:
            return read(*args)
        except self._errors as e:
            raise Invalid(f"The body's framing is malformed: {str(e)[:200]}.") from None

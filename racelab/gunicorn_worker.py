"""gunicorn as racelab serves with it: a gthread worker hardened against slow clients and
answering its own errors in JSON, and an arbiter without the waits a short-lived target pays.

gthread hands a connection to a pool thread as soon as a byte of it is readable, and the
thread then blocks until the whole request is in: a few clients that send half a request
and stop hold every thread, and nothing else is answered. This worker reads each request
in its poller, without a thread, until the request is complete (or too large to wait
for), and only then hands it to the pool; a request that does not complete within
ARRIVAL_S of its first byte is answered 408 and closed.

A compare starts and stops a server per target: gunicorn's waits at every start (the
stagger between worker spawns) and stop (a worker's interpreter torn down after its
graceful stop) were a sixth of its time.
"""

import re
import selectors
import time
from functools import partial

from gunicorn.arbiter import Arbiter
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import TConn, ThreadWorker

from racelab.arrival import ARRIVAL_S, KEEPALIVE_REQUESTS, ArrivalSocket, FramedBody
from racelab.process_exit import exit_now
from servers.app import MAX_BODY_BYTES
from servers.errors import RequestTimeout, raw_error_response
from servers.stepping import SESSION_HEADER

# A request bigger than this is handed to a thread as it is: the app refuses a body over
# MAX_BODY_BYTES without reading it, and the parser a head over its limits.
READ_AHEAD_MAX = MAX_BODY_BYTES + 16 * 1024
STOP_LINGER_S = 2.0  # a stopping worker's wait for requests already arriving
_HEAD_END = b"\r\n\r\n"
_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r\n]*chunked", re.IGNORECASE)
_EXPECT = re.compile(rb"\r\nexpect[ \t]*:", re.IGNORECASE)
_SESSION = SESSION_HEADER.upper()  # gunicorn's parser gives header names in upper case

# What the parser's errors answer: status, and the sentence's start.
_PARSE_ERRORS = [
    (http_errors.LimitRequestLine, 414, "The request line is too long"),
    (http_errors.LimitRequestHeaders, 431, "The request's headers are over the limit"),
    (http_errors.UnsupportedTransferCoding, 501, "The transfer coding is not supported"),
    (http_errors.ExpectationFailed, 417, "The expectation cannot be met"),
    (http_errors.InvalidResponseHeader, 500, ""),  # the app's fault, not the client's
    (http_errors.InvalidResponseHeaderName, 500, ""),
    (http_errors.ConfigurationProblem, 500, ""),
    (http_errors.ParseException, 400, "The request is malformed"),
]


def request_complete(data: bytes) -> bool:
    """Whether data holds a whole request, or is as much as is worth waiting for."""
    if len(data) > READ_AHEAD_MAX:
        return True
    end = data.find(_HEAD_END)
    if end < 0:
        return False
    head, body = data[: end + 2], data[end + 4 :]
    if _EXPECT.search(head):
        return True  # the client waits for an answer before it sends the body
    if _CHUNKED.search(head):
        return _chunks_complete(body)
    length = _LENGTH.search(head)
    # A body over the limit is refused from its Content-Length, before any of it is read.
    return length is None or len(body) >= int(length.group(1)) or _over(length)


def _chunks_complete(body: bytes) -> bool:
    """Whether a chunked body has reached its last chunk and trailers, or is malformed."""
    start = 0
    while (end := body.find(b"\r\n", start)) >= 0:
        try:
            size = int(body[start:end].split(b";")[0], 16)
        except ValueError:
            return True  # the parser answers it: 400
        if size == 0:
            return _HEAD_END in body[end:]  # the trailers' empty line
        start = end + 2 + size + 2
    return False


def _over(length: re.Match) -> bool:
    """Whether a Content-Length is over the body limit."""
    return int(length.group(1)) > MAX_BODY_BYTES


class PromptArbiter(Arbiter):
    """gunicorn's arbiter, spawning every worker at once.

    gunicorn sleeps up to 0.1 s between spawns; with the app preloaded a fork is ready at
    once, so the stagger only delays the moment every worker serves.
    """

    def spawn_workers(self):
        for _ in range(self.num_workers - len(self.WORKERS)):
            self.spawn_worker()


class ContractThreadWorker(ThreadWorker):
    """The gthread worker; a thread takes a request once it has arrived, and once its
    graceful stop is done, it exits at once."""

    def run(self):
        super().run()  # returns when every request in flight is answered and closed
        exit_now(0)

    def init_process(self):
        self.arriving = {}  # TConn -> its ArrivalSocket, for connections read in the poller
        super().init_process()

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = _honour_connection_close(self.wsgi)

    def accept(self, listener):
        """Accept a connection and read its first request in the poller."""
        try:
            sock, addr = listener.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, ArrivalSocket(sock), addr, listener.getsockname())
        conn.served = 0
        self._await_request(conn)

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection has its next request coming: read it in the poller."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_request(conn)

    def _await_request(self, conn) -> None:
        conn.sock.begin()
        conn.sock.setblocking(False)
        self.arriving[conn] = time.monotonic() + conn.sock.idle_s
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_ahead, conn))

    def _read_ahead(self, conn, _fileobj) -> None:
        """Read what has come of a request; hand it to a thread once it is whole."""
        try:
            data = conn.sock.raw.recv(READ_AHEAD_MAX + 1)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            return self._drop(conn)
        conn.sock.arrived()
        self.arriving[conn] = conn.sock.deadline
        conn.sock.preload(data)
        if request_complete(conn.sock.preloaded):
            self._stop_awaiting(conn)
            conn.data_ready = True
            self.enqueue_req(conn)

    def murder_pending(self):
        """Close the connections whose request did not arrive in time."""
        super().murder_pending()
        now = time.monotonic()
        for conn, deadline in list(self.arriving.items()):
            if not self.alive:
                deadline = min(deadline, now + STOP_LINGER_S) if conn.sock.preloaded else now
                self.arriving[conn] = deadline
            if deadline <= now:
                self._expire(conn)

    def _expire(self, conn) -> None:
        if conn.sock.preloaded:
            message = RequestTimeout(
                f"The request did not arrive within {ARRIVAL_S:g} s of its first byte."
            ).message
            try:
                conn.sock.raw.send(raw_error_response(408, message))
            except OSError:
                pass  # the client is gone or not reading: closing is all that is left
        self._drop(conn)

    def _drop(self, conn) -> None:
        self._stop_awaiting(conn)
        self.nr_conns -= 1
        conn.close()

    def _stop_awaiting(self, conn) -> None:
        del self.arriving[conn]
        self.poller.unregister(conn.sock)

    def handle(self, conn):
        """Serve a request; a new one on a kept-alive connection starts its own deadline."""
        if conn.sock.answered:
            conn.sock.begin()
        conn.sock.arrived()
        return super().handle(conn)

    def handle_request(self, req, conn):
        """Serve a request whose body's framing errors answer 400, not 500; close the
        connection after KEEPALIVE_REQUESTS answers, so the next one may reach another
        worker. A stepped session's connection is kept: racelab step pins each session to a
        worker process of its own through it."""
        conn.served += 1
        if conn.served >= KEEPALIVE_REQUESTS and not _names_a_session(req):
            req.must_close = True
        if req.body is not None:
            req.body = FramedBody(req.body, (http_errors.ParseException,))
        return super().handle_request(req, conn)

    def handle_error(self, req, client, addr, exc):
        """Answer the parser's and the app's failures with the contract's JSON body."""
        status, sentence = _status_of(exc)
        if status >= 500:
            self.log.exception("Error handling request")
        else:
            self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        if getattr(client, "answered", False):
            return  # an answer is already on the wire: another would corrupt it
        try:
            client.sendall(raw_error_response(status, sentence))
        except OSError:
            self.log.debug("Failed to send error message.")


def _names_a_session(req) -> bool:
    """Say whether a request names a stepped session (its pause points are scheduled)."""
    return any(name == _SESSION for name, _ in req.headers)


def _status_of(exc: BaseException) -> tuple[int, str]:
    """Return the status and sentence that answer an error found while serving a request."""
    if isinstance(exc, RequestTimeout):
        return exc.status, exc.message
    for cls, status, start in _PARSE_ERRORS:
        if isinstance(exc, cls):
            return status, f"{start}: {str(exc)[:200]}."
    return 500, ""


def _honour_connection_close(app):
    """Wrap app so that its `Connection: close` closes the connection, as it says.

    gunicorn drops the header and would keep the connection, first reading the rest of a
    body the app refused (a 413's) for up to its drain timeout.
    """

    def wsgi(environ, start_response):
        def start(status, headers, exc_info=None):
            if any(k.lower() == "connection" and v.lower() == "close" for k, v in headers):
                start_response.__self__.force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wsgi

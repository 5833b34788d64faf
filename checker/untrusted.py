"""Read answers from a server racelab did not write: bounded in size and in total time.

A server under test is untrusted input. Its answer may never end, drip a byte at a time,
announce more than it sends, or be JSON nested deeper than Python's stack: each of these
is turned into BadAnswer with the reason, never a hang or a traceback.
"""

import contextlib
import http.client
import json
import socket
import threading
import time

from racelab.exceptions import RunFailed

MAX_BYTES = 16 << 20  # a page of 1000 orders is well under 1 MiB, even with every char escaped
CHUNK = 1 << 16


class BadAnswer(RunFailed):
    """A server's answer could not be read whole, or not as JSON: the reason, in words."""


def fetch(conn: http.client.HTTPConnection, method: str, path: str, body=None, headers=None,
          seconds: float = 30.0, limit: int = MAX_BYTES) -> tuple[int, bytes]:  # fmt: skip
    """Send one request on conn and return (status, body), read whole within seconds and limit.

    BadAnswer says what came instead, as words that follow "got" (conn is closed then).
    """
    deadline = time.monotonic() + seconds
    conn.timeout = seconds
    try:
        if conn.sock is None:
            conn.connect()  # bounded by the socket's timeout; the watchdog needs the socket
        conn.sock.settimeout(seconds)
        return _exchange(conn, method, path, body, headers, deadline, limit)
    except (OSError, http.client.HTTPException) as e:  # connecting failed
        conn.close()
        raise BadAnswer(_why(e)) from None
    except BadAnswer:
        conn.close()  # what is left on this connection is not to be read as the next answer
        raise


def _exchange(conn, method, path, body, headers, deadline: float, limit: int):
    """Send the request and read its answer; the watchdog ends it at the deadline."""
    response = None
    with _Watchdog(conn.sock, deadline - time.monotonic()) as watchdog:
        try:
            conn.request(method, path, body, headers or {})
            response = conn.getresponse()
            raw = _read(response, limit)
        except (OSError, http.client.HTTPException) as e:
            if not watchdog.fired:
                raise BadAnswer(_why(e)) from None
            raw = None
    # Once the watchdog has shut the socket, even an answer that parsed is one cut short:
    # headers dripped until then end there, and a body read until close ends there too.
    if watchdog.fired:
        if response is None:
            raise BadAnswer("no answer in time")
        raise BadAnswer(f"a {response.status} answer not whole in time")
    assert response is not None  # without the watchdog, the try above answered or raised
    return response.status, raw


def parse_json(raw: bytes):
    """Return the JSON value raw holds, or raise BadAnswer saying why it holds none."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise BadAnswer("a body nested too deeply to read") from None
    except ValueError:  # not JSON, not UTF-8/16/32, or an integer of over 4300 digits
        raise BadAnswer("a body that is not JSON") from None


def printable(text: str) -> str:
    """Return text with what UTF-8 cannot encode (a lone surrogate) as a \\ud800 escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _read(response: http.client.HTTPResponse, limit: int) -> bytes:
    """Return the whole body, or raise BadAnswer if it is longer than limit bytes."""
    if response.length is not None:
        if response.length > limit:
            raise BadAnswer(f"{response.status} announcing {response.length} bytes, over {limit}")
        return response.read()  # IncompleteRead if fewer come before the server closes
    chunks, size = [], 0
    while chunk := response.read(CHUNK):  # chunked, or until the server closes
        size += len(chunk)
        if size > limit:
            raise BadAnswer(f"{response.status} and a body of more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _why(error: Exception) -> str:
    """Say in words what came instead of an answer."""
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, http.client.IncompleteRead):
        return f"an answer cut short ({len(error.partial)} bytes of its body)"
    detail = ascii(str(error)[:80])[1:-1]  # a server's bytes, control characters escaped
    return f"no answer ({type(error).__name__}{': ' + detail if detail else ''})"


class _Watchdog:
    """Shut a socket down when its time is up, which wakes any read blocked on it."""

    def __init__(self, sock: socket.socket, seconds: float):
        self.sock, self.fired = sock, False
        self.timer = threading.Timer(max(seconds, 0.0), self._fire)
        self.timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        self.timer.join()  # no thread outlives the read: a fork after it must be safe

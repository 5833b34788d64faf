"""The scheduler's side of the pause protocol (version 1, docs/contract.md): one bounded line.

A pause is one connection and one line, `RACELAB-PAUSE/1 SECRET SESSION POINT PID`; a notice
the same with `RACELAB-WAIT/1` (about to wait for a lock) or `RACELAB-FREE/1` (just let a
lock go), naming the lock where the point goes. Whatever
a caller sends, at most LINE_LIMIT bytes are read, for at most the read timeout, and a line
that is not exactly that is refused with a reason: the bytes of a stranger never raise.
"""

import hmac
import os
import re
import socket
import tempfile
import time
from dataclasses import dataclass

from racelab.exceptions import RacelabError

LINE_LIMIT = 512  # bytes, newline included: a well-formed line is under 300
READ_TIMEOUT_S = 5.0  # a pause sends its line at once; a slow sender holds a thread no longer
_NAME = rb"[A-Za-z0-9_.-]{1,64}"
_LINE = re.compile(
    rb"RACELAB-(PAUSE|WAIT|FREE)/1 ([A-Za-z0-9_-]{16,128}) (%s) (%s) ([0-9]{1,10})\n"
    % (_NAME, _NAME)
)


class Refused(RacelabError):
    """A pause the scheduler will not act on; the message is the reason it answers."""


@dataclass(frozen=True)
class Pause:
    """One well-formed pause or notice: which session, at which point (or which lock), in
    which server process."""

    session: str
    point: str
    pid: int
    kind: str = "PAUSE"  # or WAIT, FREE: a notice, answered at once


def read_pause(conn: socket.socket, secret: str, timeout: float = READ_TIMEOUT_S) -> Pause:
    """Read one pause line from conn within timeout and LINE_LIMIT bytes, or raise Refused."""
    match = _LINE.fullmatch(_read_line(conn, timeout))
    if match is None:
        raise Refused("not a RACELAB-PAUSE/1 line (or a WAIT or FREE notice)")
    if not hmac.compare_digest(match[2], secret.encode()):
        raise Refused("wrong secret")
    return Pause(match[3].decode(), match[4].decode(), int(match[5]), match[1].decode())


def _read_line(conn: socket.socket, timeout: float) -> bytes:
    """Return the bytes up to and including the first newline, read within the bounds."""
    deadline = time.monotonic() + timeout  # for the whole line: a byte at a time is no way round
    data = b""
    while b"\n" not in data:
        if len(data) >= LINE_LIMIT:
            raise Refused(f"no newline within {LINE_LIMIT} bytes")
        try:
            conn.settimeout(max(deadline - time.monotonic(), 1e-3))
            chunk = conn.recv(LINE_LIMIT - len(data))
        except TimeoutError:
            raise Refused(f"no line within {timeout:g} s") from None
        except OSError as e:
            raise Refused(f"connection failed: {e.strerror or e}") from None
        if not chunk:
            raise Refused("connection closed before the newline")
        data += chunk
    conn.settimeout(timeout)  # for the answer, sent later: a caller that stops reading is let go
    return data


def answer(conn: socket.socket, text: str) -> None:
    """Send one answer line ("go", or "no REASON") and close; a caller gone is no error."""
    try:
        conn.sendall(text.encode() + b"\n")
    except OSError:
        pass
    finally:
        conn.close()


SOCKET_PATH_MAX = 107  # bytes a Unix socket's address may hold on Linux, less its NUL


def listen() -> tuple[socket.socket, str]:
    """Listen on a Unix socket in a new folder only this user can open (mkdtemp: 0700); in
    /tmp when the usual temp folder's path is too long for a socket's address."""
    path = os.path.join(tempfile.mkdtemp(prefix="racelab-step-"), "pause.sock")
    if len(os.fsencode(path)) > SOCKET_PATH_MAX:
        os.rmdir(os.path.dirname(path))
        path = os.path.join(tempfile.mkdtemp(prefix="racelab-step-", dir="/tmp"), "pause.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    return listener, path

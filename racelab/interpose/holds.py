"""File operations as pause points: the FUSE layer asks racelab before each one.

The FUSE layer runs in a process of its own (`python -m racelab.interpose.fs --hold
SOCKET`). Before each open, read, write, fsync, rename, truncate or unlink of a file it
opens a new connection to SOCKET, a Unix socket in a folder only this user can open, sends
one JSON line `{"secret": S, "point": P, "op": OP, "path": PATH}` and waits for one answer
line (`go`), at most HOLD_LIMIT_S. racelab's side (`HoldChannel`) calls `on_file(point,
text)`, which may block: that is the pause. Anything else on the socket is answered `no`
and closed. docs/contract.md, "File interposition", is the rule.
"""

import contextlib
import json
import os
import secrets
import socket
import tempfile
import threading
from collections.abc import Callable

FILE_POINTS = ("open", "read", "write", "fsync", "rename", "truncate", "unlink")
HOLD_LIMIT_S = 120.0  # however long a schedule holds an operation, a lost racelab lets go
LINE_LIMIT = 8192  # bytes: a path of 4096 bytes, JSON-escaped, and the rest
READ_TIMEOUT_S = 5.0
SECRET_ENV = "RACELAB_HOLD_SECRET"


def file_point(event: dict) -> str | None:
    """Return the pause point a FUSE operation is, or None when it is none.

    An open that truncates (O_TRUNC) is the request's first change to the file's data, so
    it is `write`: `A.write` then holds a request before it has touched the file. A create
    is an `open` of a new file."""
    op = event.get("op")
    if op == "open" and event.get("flags", 0) & os.O_TRUNC:
        return "write"
    if op == "create":
        return "open"
    return op if op in FILE_POINTS else None


def describe(event: dict) -> str:
    """Return e.g. 'open /data.json (O_TRUNC)' or 'rename /a.tmp -> /a'."""
    text = f"{event.get('op')} {event.get('path')}"
    if "new" in event:
        text += f" -> {event['new']}"
    if event.get("op") == "open" and event.get("flags", 0) & os.O_TRUNC:
        text += " (O_TRUNC)"
    return text


def holder(path: str, secret: str) -> Callable[[dict], None]:
    """Return the FUSE layer's hook: ask racelab before every operation that is a point."""

    def hook(event: dict) -> None:
        point = file_point(event)
        if point is None:
            return
        line = {"secret": secret, "point": point, "text": describe(event)}
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(HOLD_LIMIT_S)
            conn.connect(path)
            conn.sendall(json.dumps(line).encode() + b"\n")
            conn.recv(64)  # "go", "no ...", or the connection closing: each means go on

    return hook


class HoldChannel:
    """racelab's end: a socket the FUSE layer asks at each point; `close()` ends it."""

    def __init__(self, on_file: Callable[[str, str], object]) -> None:
        self.on_file = on_file
        self.secret = secrets.token_hex(16)
        self.folder = tempfile.mkdtemp(prefix="racelab-hold-", dir="/tmp")  # mode 0700, short
        self.path = os.path.join(self.folder, "hold.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        """Read one line; pause at its point if it is well-formed and ours; answer."""
        with conn:
            line = _read_line(conn)
            if line is None or line.get("secret") != self.secret:
                with contextlib.suppress(OSError):
                    conn.sendall(b"no\n")
                return
            try:
                self.on_file(str(line.get("point")), str(line.get("text")))
            finally:
                with contextlib.suppress(OSError):
                    conn.sendall(b"go\n")

    def close(self) -> None:
        """Stop listening and remove the socket and its folder."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self.folder)


def _read_line(conn: socket.socket) -> dict | None:
    """Return the one JSON object sent, or None for anything else (bounded in time and size)."""
    conn.settimeout(READ_TIMEOUT_S)
    data = b""
    try:
        while b"\n" not in data and len(data) < LINE_LIMIT:
            chunk = conn.recv(LINE_LIMIT - len(data))
            if not chunk:
                return None
            data += chunk
        line = json.loads(data.partition(b"\n")[0])
    except (OSError, ValueError):
        return None
    conn.settimeout(None)  # the answer comes when the schedule releases the point
    return line if isinstance(line, dict) else None

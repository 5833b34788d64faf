"""The PostgreSQL wire protocol, as much as the proxy reads: framing, names and errors."""

import re
import socket
import struct

from racelab.exceptions import RacelabError

MAX_MESSAGE = 64 * 1024 * 1024  # a client message, or a sequence buffered before its Execute
SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102
PROTOCOL_MAJOR = 3
CONNECT_TIMEOUT_S = 5.0
CHUNK = 65536
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ProtocolError(RacelabError):
    """A client sent bytes that are not the PostgreSQL protocol, or a message too large."""


class Closed(RacelabError):
    """A peer closed its end."""


def statement_keyword(sql: str) -> str:
    """Return SQL's first keyword in lower case: `empty` when there is none, else `other`."""
    pos = _skip_noise(sql)
    word = _WORD.match(sql, pos)
    if word:
        return word.group().lower()[:64]
    return "empty" if pos >= len(sql) else "other"


def _skip_noise(sql: str) -> int:
    """Return the index of SQL's first character past whitespace, comments, `(` and `;`."""
    pos = 0
    while pos < len(sql):
        if sql[pos].isspace() or sql[pos] in "(;":
            pos += 1
        elif sql.startswith("--", pos):
            end = sql.find("\n", pos)
            pos = len(sql) if end < 0 else end + 1
        elif sql.startswith("/*", pos):
            pos = _comment_end(sql, pos)
        else:
            break
    return pos


def _comment_end(sql: str, pos: int) -> int:
    """Return the index just past the block comment at pos (PostgreSQL's nest)."""
    depth = 0
    while pos < len(sql):
        if sql.startswith("/*", pos):
            depth, pos = depth + 1, pos + 2
        elif sql.startswith("*/", pos):
            depth, pos = depth - 1, pos + 2
            if depth == 0:
                return pos
        else:
            pos += 1
    return pos


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Return exactly n bytes from sock; raise Closed if it ends first."""
    parts, left = [], n
    while left:
        part = sock.recv(min(left, CHUNK))
        if not part:
            raise Closed
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def read_message(sock: socket.socket) -> tuple[int, bytes]:
    """Return one typed client message (type byte, whole message); bounded in size."""
    head = recv_exact(sock, 5)
    length = struct.unpack("!I", head[1:])[0]
    if not 4 <= length <= MAX_MESSAGE:
        raise ProtocolError(f"a message of {length} bytes (at most {MAX_MESSAGE})")
    return head[0], head + recv_exact(sock, length - 4)


def read_startup(sock: socket.socket) -> tuple[int, bytes]:
    """Return an untyped startup-phase packet's code and the whole packet."""
    length = struct.unpack("!I", recv_exact(sock, 4))[0]
    if not 8 <= length <= 10000:  # PostgreSQL's own limit on a startup packet
        raise ProtocolError(f"a startup packet of {length} bytes")
    body = recv_exact(sock, length - 4)
    return struct.unpack("!I", body[:4])[0], struct.pack("!I", length) + body


def cstrings(message: bytes, count: int) -> list[str]:
    """Return the first count NUL-ended strings of a typed message's body."""
    parts = message[5:].split(b"\0", count)
    if len(parts) <= count:
        raise ProtocolError("a message ends inside a string")
    return [p.decode("utf-8", "replace") for p in parts[:count]]


def error_message(text: str, code: str = "08P01") -> bytes:
    """Return a FATAL ErrorResponse saying text (08P01: protocol violation)."""
    fields = b"".join(k + v.encode() + b"\0" for k, v in
                      ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", text)))  # fmt: skip
    return b"E" + struct.pack("!I", len(fields) + 5) + fields + b"\0"


def upstream_address(conninfo: str) -> str:
    """Return the socket path or host:port that a libpq URL or key=value string names."""
    from psycopg.conninfo import conninfo_to_dict  # psycopg parses both forms as libpq does

    params = conninfo_to_dict(conninfo)
    host, port = str(params.get("host") or "/tmp"), str(params.get("port") or 5432)
    if host.startswith("/"):
        return f"{host}/.s.PGSQL.{port}"
    return f"{host}:{port}"


def connect_upstream(address: str) -> socket.socket:
    """Open a connection to a Unix socket path or host:port."""
    if address.startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT_S)
        sock.connect(address)
    else:
        host, _, port = address.rpartition(":")
        sock = socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S)
    sock.settimeout(None)
    return sock

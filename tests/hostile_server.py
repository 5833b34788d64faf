"""A loopback server that answers like a hostile server under test, for racelab's readers."""

import time

from tests.live import RawServer

GOOD_ITEMS = b'{"items": [{"sku": "sku-1", "stock": 5}]}'


class Hostile(RawServer):
    """Answers every request as self.plan says: (transport, status, body, good /items)."""

    plan = ("close", 200, b"", False)

    def serve(self, conn):
        while (path := _request_path(conn)) is not None:
            transport, status, body, good_items = self.plan
            if good_items and path.startswith("/items"):
                transport, status, body = "exact", 200, GOOD_ITEMS
            if not _answer(conn, transport, status, body):
                return conn.close()


def _request_path(conn) -> str | None:
    """Read one request (head and Content-Length body); return its path, None at the end."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += conn.recv(65536) or b"x" * length
    return head.split(b" ")[1].decode("latin-1")


def _answer(conn, transport: str, status: int, body: bytes) -> bool:
    """Send one answer as transport says; return whether the connection may go on."""
    line = b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n" % status
    if transport == "exact":
        conn.sendall(line + b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        return True
    if transport == "drip":
        conn.sendall(line + b"Content-Length: %d\r\n\r\n" % (len(body) + 3000))
        _forever(conn, lambda: b"x", 0.02)
    elif transport in ("endless", "endless-chunked"):
        chunked = transport == "endless-chunked"
        conn.sendall(line + (b"Transfer-Encoding: chunked\r\n\r\n" if chunked else b"\r\n"))
        block = b"[" * 65536
        _forever(conn, lambda: b"10000\r\n%s\r\n" % block if chunked else block, 0)
    elif transport in ("cut-short", "overlong"):
        conn.sendall(line + b"Content-Length: 1000\r\n\r\n" + b"[" * 10)
        if transport == "overlong":
            _forever(conn, lambda: b"", 0.02)
    elif transport == "announce-huge":
        conn.sendall(line + b"Content-Length: %d\r\n\r\n[" % 10**12)
        _forever(conn, lambda: b"", 0.02)
    elif transport == "not-http":
        conn.sendall(b"\x00\xff" + body[:50] + b"\r\n\r\n")
    elif transport == "hang":
        _forever(conn, lambda: b"", 0.02)
    elif transport == "header-drip":
        conn.sendall(line)
        _forever(conn, lambda: b"X", 0.02)
    return False


def _forever(conn, more, pause: float, limit_s: float = 60.0) -> None:
    """Send more() every pause seconds until the client goes away (or a minute has passed)."""
    end = time.monotonic() + limit_s
    conn.settimeout(limit_s)
    while time.monotonic() < end:
        try:
            conn.sendall(more())
        except OSError:
            return
        time.sleep(pause)  # the server's pace, not a synchronisation

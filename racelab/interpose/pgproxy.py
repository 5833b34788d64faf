"""SQL interposition: a PostgreSQL wire-protocol proxy whose statements are pause points.

`PgProxy` listens on 127.0.0.1 and forwards each client connection to an upstream server.
Before it forwards a statement — a simple Query, or an extended-protocol sequence up to
its Sync — it calls `on_statement(conn_id, keyword, sql)`, which may block: that is the
pause. When the server's ReadyForQuery ends the statement it calls `on_done(conn_id,
status)` (status `I` idle, `T` in a transaction, `E` in a failed one). `Attribution` says
which stepped session a connection's statement belongs to, and `PauseAdapter` turns each
attributed statement into `pause(session, keyword)`. docs/contract.md, "SQL
interposition", is the rule.
"""

import contextlib
import hmac
import secrets
import selectors
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable
from urllib.parse import quote

from racelab.interpose.pgattribution import Attribution, Event, PauseAdapter, Unattributed
from racelab.interpose.pgwire import (
    CANCEL_REQUEST,
    CHUNK,
    GSSENC_REQUEST,
    MAX_MESSAGE,
    PROTOCOL_MAJOR,
    SSL_REQUEST,
    Closed,
    ProtocolError,
    connect_upstream,
    cstrings,
    error_message,
    read_message,
    read_startup,
    recv_exact,
    statement_keyword,
    upstream_address,
)

BUFFERED = frozenset(b"PBDC")  # Parse, Bind, Describe, Close: held until Execute, Flush, Sync

__all__ = [
    "Attribution", "Event", "PauseAdapter", "PgProxy", "ProtocolError", "Unattributed",
    "statement_keyword", "upstream_address",
]  # fmt: skip


class PgProxy:
    """A PostgreSQL proxy on 127.0.0.1 whose hooks see every statement; `close()` ends it.

    Clients must give `password` (left empty, a new secret; None lets any local process in).
    """

    def __init__(self, upstream: str, on_statement: Callable[[int, str, str], None],
                 on_done: Callable[[int, str], None] | None = None,
                 password: str | None = "") -> None:  # fmt: skip
        self.upstream = upstream
        self.on_statement = on_statement
        self.on_done = on_done or (lambda conn_id, status: None)
        # Loopback is open to every local user, the upstream trusts us: ask for a secret.
        self.password = secrets.token_urlsafe(24) if password == "" else password
        self.errors: list[tuple[int, str]] = []  # (conn_id, what) for each connection cut
        self._links: dict[int, _Link] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def url(self, conninfo: str, with_password: bool = True) -> str:
        """Return a URL for conninfo's user and database that goes through this proxy
        (without the password: for a command line, which any local user may read)."""
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(conninfo)
        user = quote(str(params.get("user") or ""), safe="")
        dbname = quote(str(params.get("dbname") or ""))
        shown = self.password if with_password else None
        secret = f":{quote(shown, safe='')}" if shown else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{dbname}"

    def _accept_loop(self) -> None:
        next_id = 0
        watch = selectors.DefaultSelector()  # not select(): a descriptor may be over 1023
        watch.register(self._listener, selectors.EVENT_READ)
        watch.register(self._wake_r, selectors.EVENT_READ)
        while True:
            if any(key.fileobj is self._wake_r for key, _ in watch.select()):
                watch.close()
                return
            with contextlib.suppress(OSError):
                client, _ = self._listener.accept()
                next_id += 1
                self._start_link(next_id, client)

    def _start_link(self, conn_id: int, client: socket.socket) -> None:
        link = _Link(self, conn_id, client)
        with self._lock:
            if self._closed:
                client.close()
                return
            self._links[conn_id] = link
        threading.Thread(target=link.run, daemon=True).start()

    def backend_pid(self, conn_id: int) -> int | None:
        """Return the pid of the server process serving a connection (None if unknown)."""
        with self._lock:
            link = self._links.get(conn_id)
        return link.backend_pid if link is not None else None

    def forget(self, conn_id: int, why: str | None) -> None:
        """Drop a finished connection, noting why it was cut when it was."""
        with self._lock:
            self._links.pop(conn_id, None)
            if why:
                self.errors.append((conn_id, why))

    def close(self) -> None:
        """Stop listening and close every connection (a hook still blocking keeps its thread)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            links = list(self._links.values())
        self._wake_w.send(b"x")
        self._thread.join(5)
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
        for link in links:
            link.close()


class _Link:
    """One client connection, its upstream connection, and what it has prepared."""

    def __init__(self, proxy: PgProxy, conn_id: int, client: socket.socket) -> None:
        self.proxy, self.conn_id, self.client = proxy, conn_id, client
        self.upstream: socket.socket | None = None
        self.send_lock = threading.Lock()
        self.statements: dict[str, str] = {}  # prepared statement name -> SQL
        self.portals: dict[str, str] = {}  # portal name -> SQL
        self.pending: list[bytes] = []  # a sequence's messages not yet forwarded
        self.fired = False  # this sequence has had its statement event
        self.awaiting: deque[bool] = deque()  # per ReadyForQuery to come: was it an event?
        self.backend_pid: int | None = None  # the upstream server process serving it
        self.closed = threading.Event()

    def run(self) -> None:
        """Serve the connection until either side ends it."""
        why = None
        try:
            upstream = self._startup()
            if upstream is not None:
                pump = threading.Thread(target=self._pump_upstream, args=(upstream,), daemon=True)
                pump.start()
                while True:
                    self._from_client(*read_message(self.client))
        except ProtocolError as error:
            why = f"protocol: {error}"
            self._send_client(error_message(f"racelab proxy: {error}"))
        except (Closed, OSError):
            pass
        except Exception as error:  # a hook failed: cut this connection, keep serving others
            why = f"hook: {error!r}"
        finally:
            # Noted before the cut: whoever sees the connection end can read why at once.
            self.proxy.forget(self.conn_id, why)
            self.close()

    def _startup(self) -> socket.socket | None:
        """Answer encryption requests, check the password, and pass the startup on; return
        the upstream connection (None: the client's connection ends here)."""
        code, packet = read_startup(self.client)
        while code in (SSL_REQUEST, GSSENC_REQUEST):
            self.client.sendall(b"N")
            code, packet = read_startup(self.client)
        if code == CANCEL_REQUEST:  # carries the upstream's own key: forward and hang up
            with connect_upstream(self.proxy.upstream) as upstream:
                upstream.sendall(packet)
            return None
        if code >> 16 != PROTOCOL_MAJOR:
            raise ProtocolError(f"protocol version {code >> 16}.{code & 0xFFFF}")
        password = self.proxy.password
        if password is not None and not self._authenticate(password):
            return None
        self.upstream = connect_upstream(self.proxy.upstream)
        self.upstream.sendall(packet)
        return self.upstream

    def _authenticate(self, password: str) -> bool:
        """Ask the client for the proxy's password; refuse it in PostgreSQL's words if wrong."""
        self.client.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
        kind, message = read_message(self.client)
        given = message[5:].rstrip(b"\0") if kind == ord("p") else b""
        if hmac.compare_digest(given, password.encode()):
            return True
        self._send_client(error_message("password authentication failed", "28P01"))
        return False

    def _from_client(self, kind: int, message: bytes) -> None:
        """Track, pause at and forward one client message."""
        if kind == ord("Q"):
            self._statement(cstrings(message, 1)[0])
            return self._forward([message], event=True)
        if kind in BUFFERED:
            self._track(kind, message)
            self.pending.append(message)
            if sum(map(len, self.pending)) > MAX_MESSAGE:
                raise ProtocolError(f"a sequence of over {MAX_MESSAGE} bytes before its Execute")
            return None
        if kind == ord("E") and not self.fired:
            self.fired = True
            self._statement(self.portals.get(cstrings(message, 1)[0], ""))
        batch, self.pending = [*self.pending, message], []
        if kind == ord("S"):
            self._forward(batch, event=self.fired)
            self.fired = False
        else:
            self._forward(batch, event=None if kind != ord("F") else False)
        return None

    def _track(self, kind: int, message: bytes) -> None:
        """Remember what Parse, Bind and Close name, so an Execute knows its SQL."""
        if kind == ord("P"):
            name, sql = cstrings(message, 2)
            self.statements[name] = sql
        elif kind == ord("B"):
            portal, name = cstrings(message, 2)
            self.portals[portal] = self.statements.get(name, "")
        elif kind == ord("C") and len(message) > 5:
            table = self.statements if message[5] == ord("S") else self.portals
            table.pop(message[6:].split(b"\0", 1)[0].decode("utf-8", "replace"), None)

    def _statement(self, sql: str) -> None:
        self.proxy.on_statement(self.conn_id, statement_keyword(sql), sql)

    def _forward(self, batch: list[bytes], event: bool | None) -> None:
        """Send batch upstream; event (not None) means a ReadyForQuery will answer it."""
        if event is not None:
            self.awaiting.append(event)
        assert self.upstream is not None, "client messages are read once the startup is on"
        self.upstream.sendall(b"".join(batch))

    def _pump_upstream(self, upstream: socket.socket) -> None:
        """Copy the server's messages to the client, calling on_done at each statement's end."""
        try:
            while True:
                head = recv_exact(upstream, 5)
                kind, length = head[0], struct.unpack("!I", head[1:])[0]
                if kind == ord("Z") and length == 5:
                    status = recv_exact(upstream, 1)
                    if self.awaiting and self.awaiting.popleft():
                        self.proxy.on_done(self.conn_id, status.decode("ascii", "replace"))
                    self._send_client(head + status)
                elif kind == ord("K") and length == 12:  # BackendKeyData: the server's pid
                    key = recv_exact(upstream, 8)
                    self.backend_pid = struct.unpack("!I", key[:4])[0]
                    self._send_client(head + key)
                else:
                    self._copy_to_client(upstream, head, length - 4)
        except (Closed, OSError, struct.error):
            pass
        except Exception as error:  # on_done failed
            self.proxy.forget(self.conn_id, f"hook: {error!r}")
        finally:
            self.close()

    def _copy_to_client(self, upstream: socket.socket, head: bytes, left: int) -> None:
        """Stream one server message to the client without holding it whole."""
        with self.send_lock:
            self.client.sendall(head)
            while left > 0:
                part = recv_exact(upstream, min(left, CHUNK))
                self.client.sendall(part)
                left -= len(part)

    def _send_client(self, data: bytes) -> None:
        with contextlib.suppress(OSError), self.send_lock:
            self.client.sendall(data)

    def close(self) -> None:
        """Shut both sockets, waking whichever thread reads them."""
        if self.closed.is_set():
            return
        self.closed.set()
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

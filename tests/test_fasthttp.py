"""The lean HTTP/1.1 client against a scripted loopback server: framing, reuse, failures."""

import asyncio
import socket
import time

import pytest

from loadtests.fasthttp import ConnectError, ConnectionBroken, Pool, Timeout
from tests.live import RawServer

OK_2 = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


class Scripted(RawServer):
    """A loopback server that answers each request it reads with the next scripted reply.

    A reply is bytes to send, "close" (close without answering), "hang" (answer never), or
    (bytes, "close"): answer, then close the connection without saying so.
    """

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests: list[bytes] = []
        super().__init__()

    @property
    def connections(self) -> int:
        """How many connections the client opened."""
        return len(self.conns)

    def serve(self, conn):
        with conn:
            while self.replies:
                request = conn.recv(65536)
                if not request:
                    return
                self.requests.append(request)
                reply = self.replies.pop(0)
                if reply == "close":
                    return
                if reply == "hang":
                    time.sleep(2)
                    return
                if isinstance(reply, tuple):
                    conn.sendall(reply[0])
                    return
                conn.sendall(reply)
                if b"Connection: close" in reply or b"HTTP/1.0" in reply:
                    return


@pytest.fixture
def scripted():
    servers = []

    def start(*replies):
        servers.append(Scripted(replies))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def exchange(url, requests, timeout=2.0):
    """Send (method, path, body) requests in turn on one pool; return results or errors."""

    async def run():
        pool, results = Pool(url, timeout), []
        for method, path, body in requests:
            try:
                results.append(await pool.request(method, path, body))
            except (ConnectionBroken, Timeout, ConnectError) as e:
                results.append(e)
        pool.close()
        return results

    return asyncio.run(run())


def test_keep_alive_reuses_one_connection_and_sends_exact_requests(scripted):
    server = scripted(OK_2, b'HTTP/1.1 201 Created\r\nContent-Length: 8\r\n\r\n{"id":7}')
    results = exchange(server.url, [("GET", "/items", None), ("POST", "/orders", b'{"a":1}')])
    assert results == [(200, b"{}"), (201, b'{"id":7}')]
    assert server.connections == 1
    host = server.url.removeprefix("http://")
    assert (
        server.requests[0]
        == f"GET /items HTTP/1.1\r\nHost: {host}\r\nUser-Agent: racelab\r\n\r\n".encode()
    )
    assert server.requests[1].endswith(
        b'Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}'
    )


def test_chunked_and_unframed_answers_are_read_whole(scripted):
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"
    unframed = b"HTTP/1.0 200 OK\r\n\r\nuntil the end"
    server = scripted(chunked, unframed)
    results = exchange(server.url, [("GET", "/a", None), ("GET", "/b", None)])
    assert results == [(200, b"abc"), (200, b"until the end")]


def test_connection_close_is_honoured(scripted):
    server = scripted(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", OK_2)
    results = exchange(server.url, [("GET", "/a", None), ("GET", "/b", None)])
    assert results == [(200, b""), (200, b"{}")] and server.connections == 2


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("close", ConnectionBroken),
        ((b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "close"), ConnectionBroken),
        (b"\x00\xffnot http\r\n\r\n", ConnectionBroken),
        ("hang", Timeout),
    ],
    ids=["closed-before-answer", "closed-mid-body", "garbage", "no-answer"],
)
def test_a_broken_exchange_raises_and_is_never_resent(scripted, reply, error):
    server = scripted(reply, OK_2)
    results = exchange(server.url, [("DELETE", "/orders/1", None)], timeout=0.5)
    assert isinstance(results[0], error)
    assert len(server.requests) == 1  # sent once, whatever happened to it


def test_a_request_on_a_reused_connection_times_out_too(scripted):
    """Requests on a kept-alive connection share one deadline timer: it must still fire."""
    server = scripted(OK_2, OK_2, "hang")
    requests = [("GET", "/a", None), ("GET", "/b", None), ("DELETE", "/orders/1", None)]
    results = exchange(server.url, requests, timeout=0.5)
    assert results[:2] == [(200, b"{}"), (200, b"{}")] and isinstance(results[2], Timeout)
    assert server.connections == 1 and len(server.requests) == 3


def test_a_refused_connection_means_never_sent():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    [result] = exchange(f"http://127.0.0.1:{port}", [("GET", "/items", None)])
    assert isinstance(result, ConnectError)


def test_an_idle_connection_the_server_closed_is_replaced(scripted):
    """A keep-alive connection closed while idle must not turn the next request into info."""
    server = scripted((OK_2, "close"), OK_2)

    async def run():
        pool = Pool(server.url, 2.0)
        first = await pool.request("GET", "/a")
        await asyncio.sleep(0.2)  # the server's FIN arrives while the connection is idle
        second = await pool.request("GET", "/b")
        pool.close()
        return first, second

    assert asyncio.run(run()) == ((200, b"{}"), (200, b"{}"))
    assert server.connections == 2 and len(server.requests) == 2


def test_an_ipv6_loopback_url_gives_a_bracketed_host_header():
    pool = Pool("http://[::1]:8123/base/", 1.0)
    assert (pool.host, pool.port) == ("::1", 8123)
    assert pool._encode("GET", "/items", None) == (
        b"GET /base/items HTTP/1.1\r\nHost: [::1]:8123\r\nUser-Agent: racelab\r\n\r\n"
    )

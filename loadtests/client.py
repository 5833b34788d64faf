"""Send one operation over HTTP and say what came back, as Jepsen types it.

Two interchangeable clients: "fast" (loadtests/fasthttp.py, the default, for CPU per
request) and "aiohttp" (the reference implementation). Neither ever resends a request.
"""

import asyncio
import json
from dataclasses import dataclass

import aiohttp

from history import ENCODER
from loadtests import fasthttp

CLIENTS = ("fast", "aiohttp")


def classify_status(status: int) -> str:
    """Return the Jepsen type of an answered request: 2xx ok, 4xx fail, anything else info."""
    if 200 <= status < 300:
        return "ok"
    if 400 <= status < 500:
        return "fail"
    return "info"


@dataclass(slots=True)
class Outcome:
    """What one request got: status (None if no response), Jepsen type, body, cause."""

    status: int | None
    type: str
    body: object = None
    cause: str | None = None

    @property
    def retryable(self) -> bool:
        """Say whether a client would resend: a timeout or a reset, not an answer."""
        return self.status is None and self.type == "info"


def open_session(pool: int, timeout: float) -> aiohttp.ClientSession:
    """Return a session with one shared pool that never resends a request by itself.

    aiohttp quietly resends an idempotent request (a DELETE, say) once when a pooled
    connection dies under it. If the first copy reached the server, the client would
    report only the second one's outcome - "connection refused: never sent" for a cancel
    the server carried out - and the history would lie. There is no public switch
    (aio-libs/aiohttp#10790), so the private flag is set, and tests/test_load.py checks
    that it still works.
    """
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max(pool, 1), limit_per_host=0),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )
    if not hasattr(session, "_retry_connection"):
        raise RuntimeError("this aiohttp cannot be told not to resend requests")
    session._retry_connection = False
    return session


def request_args(op: str, sku, qty, token, order_id, after_id=0) -> tuple:
    """Return (method, path, JSON body bytes or None) for an operation."""
    if op == "create":
        return "POST", "/orders", ENCODER.encode({"sku": sku, "qty": qty, "token": token}).encode()
    if op == "cancel":
        return "DELETE", f"/orders/{order_id}", None
    if op == "get":
        return "GET", f"/orders/{order_id}", None
    if op == "list":
        return "GET", f"/orders?limit=20&after_id={after_id}", None
    return "GET", "/items", None


def answered(status: int, raw: bytes, parse: bool) -> Outcome:
    """Return the outcome of a request that got an answer.

    The body is parsed only when asked (a create's answer carries the new id): parsing
    every list of orders would cost more than sending it.
    """
    return Outcome(
        status,
        classify_status(status),
        _json(raw) if parse else None,
        None if status < 400 else f"http {status}",
    )


def open_client(kind: str, base_url: str, pool: int, timeout: float):
    """Return a client ("fast" or "aiohttp") for one target; use it as an async context."""
    if kind == "aiohttp":
        return AiohttpClient(base_url, pool, timeout)
    return FastClient(base_url, timeout)


class FastClient:
    """The default client: loadtests.fasthttp's keep-alive pool."""

    def __init__(self, base_url: str, timeout: float):
        self.pool = fasthttp.Pool(base_url, timeout)

    async def send(self, method: str, path: str, body: bytes | None, parse=False) -> Outcome:
        """Send one request; never raise for what the network or the server did."""
        try:
            status, raw = await self.pool.request(method, path, body)
        except fasthttp.Timeout:
            return Outcome(None, "info", cause="timeout")
        except fasthttp.ConnectError:
            return Outcome(None, "fail", cause="connect refused")
        except fasthttp.Broken as e:
            return Outcome(None, "info", cause=f"reset: {e}")
        return answered(status, raw, parse)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.pool.close()


class AiohttpClient:
    """The reference client: one aiohttp session and its shared pool."""

    def __init__(self, base_url: str, pool: int, timeout: float):
        self.base_url = base_url
        self.session = open_session(pool, timeout)

    async def send(self, method: str, path: str, body: bytes | None, parse=False) -> Outcome:
        """Send one request; never raise for what the network or the server did."""
        return await send(self.session, method, self.base_url + path, body, parse)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.session.close()


JSON_HEADERS = {"Content-Type": "application/json"}


async def send(
    session: aiohttp.ClientSession, method: str, url: str, body: bytes | None, parse=False
) -> Outcome:
    """Send one request with aiohttp; never raise for what the network or the server did."""
    headers = JSON_HEADERS if body is not None else None
    try:
        async with session.request(method, url, data=body, headers=headers) as response:
            return answered(response.status, await response.read(), parse)
    except asyncio.TimeoutError:
        return Outcome(None, "info", cause="timeout")
    except aiohttp.ClientConnectorError:
        # The connection was never made, so the request was never sent.
        return Outcome(None, "fail", cause="connect refused")
    except (
        aiohttp.ServerDisconnectedError,
        aiohttp.ClientOSError,
        aiohttp.ClientPayloadError,
    ) as e:
        return Outcome(None, "info", cause=f"reset: {type(e).__name__}")
    except aiohttp.ClientError as e:
        return Outcome(None, "info", cause=f"client error: {type(e).__name__}")


def _json(raw: bytes):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def order_id_of(outcome: Outcome):
    """Return the id in an order answer, or None if there is none."""
    body = outcome.body
    if (
        isinstance(body, dict)
        and isinstance(body.get("id"), int)
        and not isinstance(body.get("id"), bool)
    ):
        return body["id"]
    return None

"""Send one operation over HTTP and say what came back, as Jepsen types it."""

import asyncio
import json
from dataclasses import dataclass

import aiohttp

from loadtests.history import classify_status


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


def request_args(op: str, base: str, sku, qty, token, order_id, after_id=0) -> tuple:
    """Return (method, url, json body) for an operation."""
    if op == "create":
        return "POST", f"{base}/orders", {"sku": sku, "qty": qty, "token": token}
    if op == "cancel":
        return "DELETE", f"{base}/orders/{order_id}", None
    if op == "get":
        return "GET", f"{base}/orders/{order_id}", None
    if op == "list":
        return "GET", f"{base}/orders?limit=20&after_id={after_id}", None
    return "GET", f"{base}/items", None


async def send(
    session: aiohttp.ClientSession, method: str, url: str, body, parse: bool = False
) -> Outcome:
    """Send one request; never raise for what the network or the server did.

    The body is parsed only when asked (a create's answer carries the new id): parsing
    every list of orders would cost more than sending it.
    """
    try:
        async with session.request(method, url, json=body) as response:
            raw = await response.read()
            return Outcome(
                response.status,
                classify_status(response.status),
                _json(raw) if parse else None,
                None if response.status < 400 else f"http {response.status}",
            )
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

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


async def send(session: aiohttp.ClientSession, method: str, url: str, body) -> Outcome:
    """Send one request; never raise for what the network or the server did."""
    try:
        async with session.request(method, url, json=body) as response:
            raw = await response.read()
            return Outcome(
                response.status,
                classify_status(response.status),
                _json(raw),
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

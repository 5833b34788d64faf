"""The reference client, on aiohttp: one session and its shared pool, never resending."""

import asyncio

import aiohttp

from loadtests.outcome import Outcome, answered


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


class AiohttpClient:
    """The reference client: one aiohttp session and its shared pool."""

    def __init__(self, base_url: str, pool: int, timeout: float):
        self.base_url = base_url
        self.session = open_session(pool, timeout)
        self._in_flight: set[asyncio.Task] = set()

    def start(self, method: str, path: str, body: bytes | None, parse: bool, done) -> None:
        """Send one request in a task; call done(outcome) once when it ends."""
        task = asyncio.get_running_loop().create_task(self.send(method, path, body, parse))
        self._in_flight.add(task)
        task.add_done_callback(lambda t: self._ended(t, done))

    def _ended(self, task: asyncio.Task, done) -> None:
        self._in_flight.discard(task)
        done(Outcome(None, "info", cause="run ended") if task.cancelled() else task.result())

    def end_all(self) -> None:
        """End every request in flight now, each as info "run ended"."""
        for task in list(self._in_flight):
            task.cancel()

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

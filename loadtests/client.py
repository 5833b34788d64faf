"""Send one operation over HTTP and say what came back, as Jepsen types it.

Two interchangeable clients: "fast" (loadtests/fasthttp.py, the default, for CPU per
request) and "aiohttp" (the reference implementation). Neither ever resends a request.
"""

from urllib.parse import quote

from history import ENCODER
from loadtests import fasthttp
from loadtests.outcome import Outcome, answered

CLIENTS = ("fast", "aiohttp")
LIST_LIMIT = 20  # orders a list asks for


def request_args(op: str, sku, qty, token, order_id, after_id=0, shift=None, doctor=None):
    """Return (method, path, JSON body bytes or None) for an operation."""
    if op == "leave":
        body = ENCODER.encode({"doctor": doctor, "token": token}).encode()
        return "POST", f"/shifts/{quote(shift, safe='')}/leave", body
    if op == "shifts":
        return "GET", "/shifts", None
    if op == "create":
        return "POST", "/orders", ENCODER.encode({"sku": sku, "qty": qty, "token": token}).encode()
    if op == "cancel":
        return "DELETE", f"/orders/{order_id}", None
    if op == "get":
        return "GET", f"/orders/{order_id}", None
    if op == "list":
        return "GET", f"/orders?limit={LIST_LIMIT}&after_id={after_id}", None
    return "GET", "/items", None


def open_client(kind: str, base_url: str, pool: int, timeout: float):
    """Return a client ("fast" or "aiohttp") for one target; use it as an async context."""
    if kind == "aiohttp":
        # Imported here: aiohttp takes 0.1-0.2 s to import, a tenth of a short run's CPU.
        from loadtests.aiohttp_client import AiohttpClient

        return AiohttpClient(base_url, pool, timeout)
    return FastClient(base_url, timeout)


class FastClient:
    """The default client: loadtests.fasthttp's keep-alive pool."""

    def __init__(self, base_url: str, timeout: float):
        self.pool = fasthttp.Pool(base_url, timeout)

    def start(self, method: str, path: str, body: bytes | None, parse: bool, done) -> None:
        """Send one request; call done(outcome) once, later, from the event loop."""

        def ended(status, raw, error):
            done(answered(status, raw, parse) if error is None else failed(error))

        self.pool.send(method, path, body, ended)

    async def send(self, method: str, path: str, body: bytes | None, parse=False) -> Outcome:
        """Send one request; never raise for what the network or the server did."""
        try:
            status, raw = await self.pool.request(method, path, body)
        except (fasthttp.Timeout, fasthttp.ConnectError, fasthttp.ConnectionBroken,
                fasthttp.Ended) as e:  # fmt: skip
            return failed(e)
        return answered(status, raw, parse)

    def end_all(self) -> None:
        """End every request in flight now, each as info "run ended"."""
        self.pool.end_all()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.pool.close()


def failed(error: Exception) -> Outcome:
    """Return the outcome of a request that got no answer, typed by what went wrong."""
    if isinstance(error, fasthttp.ConnectError):
        return Outcome(None, "fail", cause="connect refused")  # never sent
    if isinstance(error, fasthttp.Timeout):
        return Outcome(None, "info", cause="timeout")
    if isinstance(error, fasthttp.Ended):
        return Outcome(None, "info", cause="run ended")
    return Outcome(None, "info", cause=f"reset: {error}")

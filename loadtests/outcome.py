"""What one request got, typed as Jepsen types it: ok, fail, or info (unknown)."""

import json
from dataclasses import dataclass


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


def _json(raw: bytes):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None

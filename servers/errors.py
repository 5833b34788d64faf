"""Typed errors, translated once into the JSON error body at the HTTP boundary."""

import json
from http import HTTPStatus

from racelab.exceptions import BadInput, RacelabError


class ApiError(RacelabError):
    """An error the contract names: an HTTP status, a code and a sentence."""

    status = 400
    code = "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        """Return the contract's JSON error body."""
        return {"error": self.code, "message": self.message}


class Invalid(ApiError):
    status, code = 400, "invalid"


class UnknownSku(ApiError):
    status, code = 404, "unknown_sku"


class NotFound(ApiError):
    status, code = 404, "not_found"


class OutOfStock(ApiError):
    status, code = 409, "out_of_stock"

    @classmethod
    def left(cls, stock: int, sku: str, qty: int) -> "OutOfStock":
        """The answer to a create that asks for more than is left, in every store's words."""
        return cls(f"Only {stock} of {sku!r} left; {qty} were asked for.")


class TooLarge(ApiError):
    status, code = 413, "too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class Busy(ApiError):
    """The store could not take the write in time; the write did not happen."""

    status, code = 503, "busy"


class RequestTimeout(ApiError):
    """The request did not arrive in time; nothing was done."""

    status, code = 408, "timeout"


# The code of every status an answer can have, including those the HTTP layer writes
# itself before the app sees a request.
HTTP_ERROR_CODES = {
    400: "invalid",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    413: "too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "internal",
    501: "not_implemented",
    503: "busy",
    505: "http_version_not_supported",
}
INTERNAL_MESSAGE = "The server failed; its log says why."


def raw_error_response(status: int, message: str) -> bytes:
    """Return a whole HTTP/1.1 answer with the contract's error body; it closes the connection."""
    if status == 500:
        message = INTERNAL_MESSAGE  # it never names the server's internals
    code = HTTP_ERROR_CODES.get(status, "http_error")
    body = json.dumps({"error": code, "message": message}, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {_reason(status)}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class StoreUnreadable(BadInput):
    """A store exists but cannot be read; `racelab serve` refuses it."""


class StoreRefused(BadInput):
    """A place racelab will not touch even with --reset (tables it did not create)."""


def _reason(status: int) -> str:
    """Return the status line's reason phrase."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

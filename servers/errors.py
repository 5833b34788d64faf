"""Typed errors, translated once into the JSON error body at the HTTP boundary."""


class ApiError(Exception):
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


class TooLarge(ApiError):
    status, code = 413, "too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class Busy(ApiError):
    """The store could not take the write in time; the write did not happen."""

    status, code = 503, "busy"


class StoreUnreadable(Exception):
    """A store exists but cannot be read; `racelab serve` refuses it."""

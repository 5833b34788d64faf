"""The HTTP contract, written once for every backend and strategy."""

import logging
import os

from flask import Flask, Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from servers import oncall, stepping, validation
from servers.errors import (
    HTTP_ERROR_CODES,
    INTERNAL_MESSAGE,
    ApiError,
    NotFound,
    TooLarge,
    UnsupportedMediaType,
)
from servers.openapi import openapi_document
from servers.registry import open_store

MAX_BODY_BYTES = 64 * 1024


class UnsortedJson(DefaultJSONProvider):
    """Flask's JSON answers, their keys in the order the contract writes them."""

    sort_keys = False


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app for config BACKEND, STRATEGY and DATA_DIR (the store must exist)."""
    app = Flask(__name__)
    app.config.from_mapping(BACKEND="json", STRATEGY="naive", DATA_DIR="data")
    if test_config:
        app.config.update(test_config)
    # Werkzeug enforces this for bodies without a Content-Length too.
    # One byte over the limit, so that reading it proves a body without a
    # Content-Length (chunked) is too large; Werkzeug stops reading there.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    app.json = UnsortedJson(app)
    app.extensions["stepping"] = app_stepping = stepping.settings(
        app.config.get("STEP_ADDRESS"), app.config.get("DELAY_S")
    )
    with stepping.applied(app_stepping):  # a store's lock waits are set as it opens
        app.extensions["store"] = open_store(
            app.config["BACKEND"], app.config["STRATEGY"], app.config["DATA_DIR"]
        )
    register_routes(app)
    register_error_handlers(app)
    register_stepping(app)
    return app


def register_stepping(app: Flask) -> None:
    """Give each request its app's pause points (servers/stepping.py), off unless asked for.

    With STEP_ADDRESS (socket path, secret), named sessions' writes pause at the scheduler's
    word. With DELAY_S (low, high), writes are slowed by a random delay at their write point,
    between deciding and writing: a fault-injection knob that makes clients time out and
    resend while the first attempt is still undecided on the store.
    """
    app_stepping = app.extensions["stepping"]

    def enter():
        # Set for every request, on or off: a thread that served another app's request
        # before (two apps in one process) must not keep that app's settings.
        stepping.current.set(app_stepping)
        if app_stepping is not None and app_stepping.scheduler is not None:
            stepping.session.set(request.headers.get(stepping.SESSION_HEADER))

    def say_which_worker(response: Response) -> Response:
        response.headers[stepping.WORKER_HEADER] = str(os.getpid())
        return response

    app.before_request(enter)
    if app.config.get("STEP_ADDRESS"):
        app.after_request(say_which_worker)


def get_store():
    """Return this app's store."""
    return current_app.extensions["store"]


def register_routes(app: Flask) -> None:
    """Attach the contract's routes."""
    app.add_url_rule("/health", view_func=health)
    app.add_url_rule("/items", view_func=list_items)
    app.add_url_rule("/orders", view_func=create_order, methods=["POST"])
    app.add_url_rule("/orders", view_func=list_orders, methods=["GET"])
    app.add_url_rule("/orders/<int:order_id>", view_func=get_order, methods=["GET"])
    app.add_url_rule("/orders/<int:order_id>", view_func=cancel_order, methods=["DELETE"])
    app.add_url_rule("/shifts", view_func=list_shifts)
    app.add_url_rule("/shifts/<shift>/leave", view_func=leave_shift, methods=["POST"])
    app.add_url_rule("/openapi.json", view_func=openapi)


def health():
    """Say which backend and strategy answer (the store was opened by them)."""
    config = current_app.config
    return {"status": "ok", "backend": config["BACKEND"], "strategy": config["STRATEGY"]}


def list_items():
    """List every item with its stock."""
    items = get_store().items()
    return {"items": [{"sku": sku, "stock": stock} for sku, stock in items.items()]}


def create_order():
    """Create an order, or replay the stored one for a known token."""
    fields = validation.parse_order_body(json_body())
    order, created = get_store().create_order(**fields)
    return jsonify(order), 201 if created else 200


def list_shifts():
    """List every shift with the doctors on call."""
    shifts = get_store().shifts()
    return jsonify([{"shift": shift, "on_call": doctors} for shift, doctors in shifts.items()])


def leave_shift(shift: str):
    """Take a doctor off call, unless they are the last; replay the answer of a known token."""
    fields = oncall.parse_leave_body(json_body())
    answer, _ = get_store().leave_shift(oncall.parse_shift(shift), **fields)
    return answer


def json_body() -> bytes:
    """Return the request's JSON body, refusing one too large (413) or not JSON (415)."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise TooLarge(
            f"The body is {request.content_length} bytes; the limit is {MAX_BODY_BYTES}."
        )
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {request.mimetype or 'missing'!r}."
        )
    raw = request.stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise TooLarge(f"The body is over the {MAX_BODY_BYTES}-byte limit.")
    return raw


def list_orders():
    """List orders by id, a page at a time."""
    limit, after_id = validation.parse_list_args(request.args)
    return {"orders": get_store().list_orders(limit, after_id)}


def get_order(order_id: int):
    """Return one order."""
    return get_store().get_order(existing_id(order_id))


def cancel_order(order_id: int):
    """Delete an order and return its qty to stock."""
    get_store().cancel_order(existing_id(order_id))
    return Response(status=204)


def existing_id(order_id: int) -> int:
    """Return order_id, or raise NotFound for one no store can hold."""
    if order_id > validation.MAX_ID:
        raise NotFound(f"No order has id {order_id}.")
    return order_id


def openapi():
    """Describe this contract as OpenAPI 3."""
    return openapi_document()


def register_error_handlers(app: Flask) -> None:
    """Answer every error with the contract's JSON body, never HTML or a traceback."""
    app.register_error_handler(ApiError, lambda e: (e.body(), e.status))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    app.after_request(_close_after_unread_body)


def _close_after_unread_body(response: Response) -> Response:
    # A refused body is never read, a late one never whole; closing keeps the server from
    # draining it to reuse the connection (gunicorn would otherwise wait for all of it).
    if response.status_code in (408, 413):
        response.headers["Connection"] = "close"
    return response


def _http_error(e: HTTPException):
    status = e.code or 500  # werkzeug's own errors always carry one
    code = HTTP_ERROR_CODES.get(status, "http_error")
    messages = {
        404: f"No route {request.path!r}.",
        405: f"{request.method} is not allowed on {request.path!r}.",
        413: f"The body is over the {MAX_BODY_BYTES}-byte limit.",
    }
    message = messages.get(status, e.description)
    # Keep the exception's headers: a 405 must say which methods are Allowed.
    headers = [(k, v) for k, v in e.get_headers() if k.lower() != "content-type"]
    return {"error": code, "message": message}, status, headers


def _internal_error(e: Exception):
    # The naive strategies fail this way on purpose (a half-written file); log it for
    # the server log and tell the client the outcome is unknown.
    # The detail goes to the server log; a client is never told about the internals.
    logging.getLogger("racelab.server").error("internal error: %r", e, exc_info=e)
    return {"error": "internal", "message": INTERNAL_MESSAGE}, 500

"""Pause points for `racelab step` in any WSGI or ASGI app: the pause protocol, version 1
(docs/contract.md). No dependency, no racelab; a no-op unless RACELAB_STEP_SOCKET is set.

    app = WSGIMiddleware(app)    # or ASGIMiddleware(app): remembers X-Racelab-Session
    pause("read")                # in a request's work (ASGI: await apause("read"))
"""

import asyncio
import contextvars
import os
import re
import socket
import sys

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
LIMIT_S = 120.0  # however long a schedule holds a request, a lost scheduler lets it go
session = contextvars.ContextVar("racelab_session", default=None)


def pause(point: str) -> None:
    """Wait until racelab's scheduler lets this request's session pass point."""
    path, secret = os.environ.get("RACELAB_STEP_SOCKET"), os.environ.get("RACELAB_STEP_SECRET")
    name = session.get()
    if not (path and secret and name and NAME.fullmatch(name)):
        return
    try:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(LIMIT_S)
            conn.connect(path)
            conn.sendall(f"RACELAB-PAUSE/1 {secret} {name} {point} {os.getpid()}\n".encode())
            answer = conn.makefile("rb").readline(512).decode("ascii", "replace").strip()
    except OSError:
        return  # no scheduler: carry on unscheduled
    if answer.startswith("no "):
        print(f"racelab_pause: {point} of {name} refused: {answer[3:]}", file=sys.stderr)


async def apause(point: str) -> None:
    """Pause without blocking the event loop (to_thread carries the session along)."""
    await asyncio.to_thread(pause, point)


def WSGIMiddleware(app):  # noqa: N802 - used like a class
    """Wrap a WSGI app: each request's session in the contextvar, its pid in each answer."""

    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("X-Racelab-Worker", str(os.getpid()))],
                                  exc_info)  # fmt: skip

        token = session.set(environ.get("HTTP_X_RACELAB_SESSION"))
        try:
            return app(environ, start)
        finally:
            session.reset(token)

    return wrapped


def ASGIMiddleware(app):  # noqa: N802 - used like a class
    """Wrap an ASGI app: each request's session in the contextvar, its pid in each answer."""

    async def wrapped(scope, receive, send):
        async def sending(message):
            if message["type"] == "http.response.start":
                pid = (b"x-racelab-worker", str(os.getpid()).encode())
                message = {**message, "headers": [*message.get("headers", []), pid]}
            await send(message)

        headers = dict(scope.get("headers", []))
        token = session.set(headers.get(b"x-racelab-session", b"").decode("latin-1") or None)
        try:
            await app(scope, receive, sending)
        finally:
            session.reset(token)

    return wrapped

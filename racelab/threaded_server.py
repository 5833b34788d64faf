"""The one-process server: Werkzeug's threaded server, bounded, answering its own errors in JSON."""

import threading

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from racelab.arrival import ARRIVAL_S, MAX_CONNECTIONS, ArrivalSocket, FramedBody
from servers.errors import RequestTimeout, raw_error_response


class ContractRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, reading through an ArrivalSocket; its own errors are JSON."""

    arrival_s = ARRIVAL_S

    def setup(self) -> None:
        """Read and write the connection through an ArrivalSocket."""
        self.request = ArrivalSocket(self.request, self.arrival_s)
        super().setup()

    def make_environ(self) -> dict:
        """Build the WSGI environ; a malformed chunked body answers 400 with its reason."""
        environ = super().make_environ()
        if environ.get("wsgi.input_terminated"):  # Werkzeug dechunks it: OSError on bad framing
            environ["wsgi.input"] = FramedBody(environ["wsgi.input"], (OSError, ValueError))
        return environ

    def handle_one_request(self) -> None:
        """Read and answer one request; one that does not arrive in time gets a 408."""
        self.connection.begin()
        try:
            super().handle_one_request()
        except RequestTimeout as e:
            self.send_error(e.status, e.message)

    def send_error(self, code: int, message: str | None = None, explain=None) -> None:
        """Answer with the contract's JSON error body, not http.server's HTML page."""
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        sentence = _sentence(code, message)
        self.wfile.write(raw_error_response(code, sentence))


def _sentence(code: int, message: str | None) -> str:
    """Return the sentence for an error http.server found in a request."""
    if code == 414:
        return "The request line is over the 65536-byte limit."
    if code == 431:
        return f"The request's headers are over the limit: {(message or '').lower()}."
    text = (message or "The request is malformed").rstrip(".")
    return f"{text[:200]}."


class BoundedWSGIServer(ThreadedWSGIServer):
    """Werkzeug's threaded server, serving at most max_connections connections at once.

    Beyond them, connections wait in the listen backlog until a thread is free.
    """

    def __init__(self, *args, max_connections: int = MAX_CONNECTIONS, **kwargs):
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request, client_address) -> None:
        """Wait for a free slot, then serve the connection in a thread."""
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        """Serve a connection, then free its slot."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

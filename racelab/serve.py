"""Serve a target: one threaded process, or N gunicorn worker processes on one store."""

import contextlib
import logging
import os
import signal
import socket
import sys
import threading

from racelab.arrival import KEEPALIVE_S, MAX_CONNECTIONS
from racelab.exceptions import RacelabError, RunFailed
from servers import create_app, init_store
from servers.errors import StoreRefused, StoreUnreadable
from servers.oncall import DOCTORS_DEFAULT, SHIFTS_DEFAULT
from servers.registry import store_class

LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


class ServeError(RacelabError):
    """A reason the server cannot start, in one line, and its exit status."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status  # 2: the command line asked for something wrong; 1: the machine


def open_listener(host: str, port: int) -> socket.socket:
    """Bind and listen on host:port, or raise ServeError naming the cause."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        # Not bad usage: the same command works once the port is free.
        raise ServeError(f"cannot listen on {host}:{port}: {e.strerror}", status=1) from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def prepare_store(backend, strategy, data_dir, reset, skus, stock, rota=None) -> None:
    """Create or check the store once, before any worker opens it (rota: (shifts, doctors))."""
    try:
        shifts, doctors = rota or (SHIFTS_DEFAULT, DOCTORS_DEFAULT)
        init_store(backend, strategy, data_dir, reset=reset, skus=skus, stock=stock,
                   shifts=shifts, doctors=doctors)  # fmt: skip
    except StoreRefused as e:
        raise ServeError(str(e)) from None
    except StoreUnreadable as e:
        raise ServeError(
            f"the store in {data_dir} cannot be read: {e}; --reset replaces it"
        ) from None
    except OSError as e:
        raise ServeError(f"cannot write the data dir {data_dir}: {e.strerror}") from None


def app_config(backend, strategy, data_dir, delay=None, step=None) -> dict:
    """Return the Flask config for a target."""
    return {
        "BACKEND": backend,
        "STRATEGY": strategy,
        "DATA_DIR": str(data_dir),
        "DELAY_S": delay,
        "STEP_ADDRESS": step,
    }


def serve_threaded(sock: socket.socket, config: dict, ready) -> None:
    """Serve in this process with a thread per connection, at most MAX_CONNECTIONS of them."""
    from racelab.threaded_server import BoundedWSGIServer, ContractRequestHandler

    host, port = sock.getsockname()[:2]
    app = create_app(config)
    server = BoundedWSGIServer(host, port, app, handler=ContractRequestHandler, fd=sock.fileno())
    # Quiet the per-request access log: at thousands of requests/s it is the bottleneck.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # SIGTERM asks the loop to end from a thread of its own: a KeyboardInterrupt raised by
    # the handler can land in a finalizer, where Python prints and drops it, and a fresh
    # clone's CI saw a server go on serving after its SIGTERM (found still running later).
    signal.signal(signal.SIGTERM, lambda *_: _stop_soon(server))
    try:  # a signal from the moment the address is announced stops it the same way
        ready()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _stop_soon(server) -> None:
    """Ask serve_forever to return (it looks every half second); never wait for it here."""
    threading.Thread(target=server.shutdown, daemon=True).start()


def announce_when_workers_ready(workers: int, ready):
    """Return a post_worker_init hook; call ready() once every worker has reported in.

    Until then a fast worker could accept every connection of a starting load while the
    others boot, and N workers would quietly behave as one.
    """
    read_end, write_end = os.pipe()

    def wait() -> None:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            for _ in range(workers):
                pipe.read(1)
        ready()

    threading.Thread(target=wait, daemon=True).start()
    return lambda worker: os.write(write_end, b"!")


def serve_gunicorn(sock: socket.socket, config: dict, workers: int, threads: int, ready) -> None:
    """Serve with N gunicorn worker processes (gthread), each opening the store itself."""
    from gunicorn.app.base import BaseApplication

    from racelab.gunicorn_worker import ContractThreadWorker, PromptArbiter

    settings = _gunicorn_settings(sock, workers, threads, ContractThreadWorker)
    settings["post_worker_init"] = announce_when_workers_ready(workers, ready)

    class TargetApplication(BaseApplication):
        def load_config(self):
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            return create_app(config)

        def run(self):
            HangUpStops(self).run()

    class HangUpStops(PromptArbiter):
        """A closed terminal stops the server: gunicorn's SIGHUP would reload it and go on."""

        def handle_hup(self):
            self.handle_term()

    TargetApplication().run()


def _gunicorn_settings(sock: socket.socket, workers: int, threads: int, worker_class) -> dict:
    """Return gunicorn's settings for serving the contract on sock."""
    # preload_app: workers fork ready to serve, so none can take every connection while
    # the others are still importing; post_fork gives each its own handles.
    return {
        "bind": [f"fd://{sock.fileno()}"],
        "workers": workers,
        "threads": threads,
        "worker_class": worker_class,  # slow clients hold no thread
        "worker_connections": MAX_CONNECTIONS,
        "preload_app": True,
        "post_fork": _after_fork,
        "graceful_timeout": 5,
        "timeout": 60,
        "accesslog": None,
        "loglevel": "warning",
        "keepalive": KEEPALIVE_S,
        # gunicorn's control socket (gunicornc) would be one path in $HOME shared by every
        # server racelab runs at once, and its asyncio thread is stopped and restarted
        # around each worker's fork: racelab stops its servers by signal, never through it.
        "control_socket_disable": True,
    }


def _after_fork(_server, worker) -> None:
    """Drop any handle the preloading parent made; each worker opens its own."""
    worker.app.wsgi().extensions["store"].after_fork()


def serve(
    backend,
    strategy,
    data_dir,
    host,
    port,
    workers,
    threads,
    reset,
    skus,
    stock,
    delay=None,
    announce=print,
    step=None,
    database_url=None,
    rota=None,  # (shifts, doctors) of a fresh store's on-call rota; None: the defaults
) -> None:
    """Start what the store needs, prepare it, listen, announce the URL, serve until signalled."""
    with _store_serving(backend, strategy, data_dir, database_url) as note:
        if note:
            print(f"racelab serve: {note}", file=sys.stderr, flush=True)
        prepare_store(backend, strategy, data_dir, reset, skus, stock, rota)
        sock = open_listener(host, port)
        bound_port = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        line = (
            f"racelab serve: {backend}/{strategy} on http://{shown}:{bound_port} "
            f"({workers} worker{'s' if workers > 1 else ''}, pid {os.getpid()})"
        )

        def ready() -> None:
            announce(line)
            sys.stdout.flush()

        config = app_config(backend, strategy, data_dir, delay, step)
        if workers == 1:
            serve_threaded(sock, config, ready)
        else:
            serve_gunicorn(sock, config, workers, threads, ready)


@contextlib.contextmanager
def _store_serving(backend, strategy, data_dir, database_url):
    """Enter the store's serving context (a private database server); its errors as ServeErrors."""
    cls = store_class(backend, strategy)
    if database_url and not cls.takes_database_url:
        raise ServeError(f"--database-url is for a database server; a {backend} store is a file")
    with contextlib.ExitStack() as stack:
        try:
            note = stack.enter_context(cls.serving(data_dir, database_url))
        except RunFailed as e:
            raise _cluster_error(e) from None
        except OSError as e:
            raise ServeError(f"cannot write the data dir {data_dir}: {e.strerror}") from None
        yield note


def _cluster_error(error: RunFailed) -> Exception:
    """Return the ServeError for a private database server that would not start, else error."""
    import pgcluster  # only a database server's start fails so: a file store never loads it

    if isinstance(error, pgcluster.NoPostgres):
        return ServeError(str(error))  # PostgreSQL is not installed: the user's to fix
    if isinstance(error, pgcluster.ClusterError):
        return ServeError(str(error), status=1)
    return error

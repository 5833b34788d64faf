"""Helpers for tests that start real servers and send real load, on loopback only."""

import contextlib
import json
import os
import socket
import threading
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

import pgcluster
from checker import check
from checker.stores import resolve_store_path
from history import read_history
from loadtests.config import LoadConfig
from loadtests.run import execute
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec
from servers import create_app, init_store

# CI sets this: there, PostgreSQL is installed, and a test that cannot find it has failed.
REQUIRE_POSTGRES = "RACELAB_REQUIRE_POSTGRES"


def require_postgres() -> None:
    """Skip a test that needs PostgreSQL where it is missing; fail it where CI requires it."""
    if pgcluster.find_bindir() is not None:
        return
    if os.environ.get(REQUIRE_POSTGRES):
        pytest.fail(f"{pgcluster.INSTALL_HINT} ({REQUIRE_POSTGRES} is set)")
    pytest.skip(f"{pgcluster.INSTALL_HINT} (set {REQUIRE_POSTGRES}=1 to make this a failure)")


@contextmanager
def served(tmp_path, backend, strategy, workers=1, skus=5, stock=100_000):
    """Run `racelab serve` as a subprocess on a free port; yield (base URL, data dir)."""
    if backend == "postgres":
        require_postgres()
    spec = TargetSpec(backend, strategy, workers)
    data_dir = tmp_path / spec.slug
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(skus=skus, stock=stock)
    process, url = start_server(spec, data_dir, settings, tmp_path / f"{spec.slug}.log")
    try:
        yield url, data_dir
    finally:
        stop_server(process)


@contextmanager
def in_process(tmp_path, backend="sqlite", strategy="transactional", skus=3, stock=100_000):
    """Serve a target from a thread of this process; yield its base URL."""
    init_store(backend, strategy, tmp_path, skus=skus, stock=stock)
    app = create_app({"BACKEND": backend, "STRATEGY": strategy, "DATA_DIR": str(tmp_path)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["store"].close()


def hammer(url, history_path, seconds=3.0, vus=30, seed=1, **overrides) -> dict:
    """Run a bounded write-heavy load; return the summary."""
    config = LoadConfig(
        url=url,
        duration=seconds,
        vus=vus,
        seed=seed,
        mix=overrides.pop("mix", {"create": 80, "cancel": 20}),
        **overrides,
    )
    summary, _ = execute(config, history_path)
    return summary


# A race's outcome is asserted on a load sized by requests, never by the clock: a slow
# machine sends as many writes as a fast one, only later. The duration is a safety cap.
RACE_REQUESTS = 500  # every unsafe target fails at this count (3 runs each, docs/benchmarks.md)
RACE_CAP_S = 60.0


def load_and_check(tmp_path, backend, strategy, workers, through_api=False):
    """Serve a target, send it RACE_REQUESTS writes, stop it, and return the checker's report
    (through_api: and the report of a check that read the store through the running API)."""
    history_path = tmp_path / f"{backend}-{strategy}-{workers}.jsonl"
    with served(tmp_path, backend, strategy, workers) as (url, data_dir):
        hammer(url, history_path, RACE_CAP_S, max_requests=RACE_REQUESTS)
        api_report = check(url, read_history(history_path)) if through_api else None
    report = check(resolve_store_path(data_dir), read_history(history_path))
    return (report, api_report) if through_api else report


class RawServer:
    """A loopback TCP server that hands each connection to self.serve(conn) in a thread."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve_until_closed, args=(conn,), daemon=True).start()

    def _serve_until_closed(self, conn):
        # close() may shut a connection under a thread still reading it: that is the end.
        with contextlib.suppress(OSError):
            self.serve(conn)

    def serve(self, conn):
        """Talk to one connection (subclasses say how)."""
        raise NotImplementedError

    def close(self):
        """Stop accepting and close every connection."""
        self.listener.close()
        for conn in self.conns:
            conn.close()


class RecordingHistory:
    """Stands in for a HistoryWriter: keeps the records in a list, parsed back from JSON."""

    def __init__(self):
        self.records: list[dict] = []

    def write(self, record: dict) -> None:
        """Keep a record written as a dict."""
        self.records.append(record)

    def write_line(self, line: str) -> None:
        """Keep a record written as a JSON line."""
        self.records.append(json.loads(line))

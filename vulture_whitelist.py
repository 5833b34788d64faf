"""Names only a framework calls, for `make lint`'s dead-code check (vulture).

Everything else vulture finds unused is dead and is deleted, not listed here. Click
commands and Flask routes are left out by their decorators (pyproject.toml, [tool.vulture]).
"""

# ruff: noqa: F821, B018 - vulture reads these names; nothing runs this file

# Python's own protocols: a module's lazy attributes (PEP 562), an ASGI app's arguments.
__getattr__  # checker/__init__.py
receive  # tests/test_step_interpose.py

# msgspec and Flask read these fields and settings by name.
created_at  # checker/stores.py, servers/json_store/document.py: decoded struct fields
_.sort_keys  # servers/app.py: Flask's JSON provider
_.must_close  # racelab/gunicorn_worker.py: gunicorn's request flag, read by its response
p90  # shapes/reports.py: Latency's field, written to the load summary and read by thresholds

# asyncio's Protocol and httptools' parser call these (loadtests/fasthttp.py).
_.connection_made
_.data_received
_.connection_lost
_.on_header
_.on_headers_complete
_.on_body
_.on_message_complete

# Locust runs these users, their waits, hooks and listeners.
FastItems  # benchmarks/locust_items.py
SlowItems
OrderUser  # loadtests/locustfile.py
OnCallUser
abstract
wait_time
tasks
_.on_start
close_history
request_type

# The list of strategies names each one's class by import path (servers/*_store/__init__.py),
# imported only when a store of it opens.
NaiveJsonStore  # servers/json_store/strategies.py
ThreadLockJsonStore
FileLockJsonStore
OptimisticJsonStore
NaiveSqliteStore  # servers/sqlite_store/strategies.py
TransactionalSqliteStore
NaivePostgresStore  # servers/postgres_store/strategies.py
RepeatableReadPostgresStore
SerializablePostgresStore
ForUpdatePostgresStore
TransactionalPostgresStore

# The standard library's servers, sockets and parsers call these overrides.
_.makefile  # racelab/arrival.py: socketserver's StreamRequestHandler
buffering
_.readinto  # io.BufferedReader
_.close_connection  # http.server's BaseHTTPRequestHandler
protocol_version  # tests/test_step.py
_.do_GET  # tests/test_oncall.py, tests/test_step.py
_.log_message
_.handle_starttag  # html.parser, tests/test_compare.py, tests/test_pages.py
_.handle_data

# gunicorn calls these on its workers and arbiter.
_.nr_conns  # racelab/gunicorn_worker.py
_.data_ready
_.on_client_socket_readable
_.handle_error
_.spawn_workers  # racelab/gunicorn_worker.py
_._num_workers  # gunicorn's num_workers property reads it (tests/test_slow_clients.py)
_.handle_hup  # racelab/serve.py

# FUSE (mfusepy) calls these operations with these arguments (racelab/interpose/fs.py).
use_ns
_.access
amode
_.statfs
_.readdir
_.opendir
_.releasedir
_.fsyncdir
datasync
_.utimens

# pytest's hooks and marks.
pytest_collection_modifyitems  # tests/conftest.py
pytestmark  # tests/test_pgcluster_safety.py

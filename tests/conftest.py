"""Fixtures: an app per backend x strategy on a temporary store, and live servers."""

import psycopg
import pytest
from hypothesis import settings

import pgcluster
from servers import STRATEGIES, create_app, init_store
from servers.registry import store_class
from tests.live import require_postgres

# Property tests check answers, not speed: a slow moment on a shared two-core machine must
# not fail one (hypothesis's default 200 ms deadline did, in CI).
settings.register_profile("racelab", deadline=None)
settings.load_profile("racelab")

# The files that take longest, started first: pytest-xdist hands files to its processes in
# collection order, and one of these started last would end the run minutes after the rest
# (the order of one run's per-file times, docs/benchmarks.md).
LONGEST_FIRST = ("test_explore.py", "test_live_targets.py", "test_contract.py", "test_labs.py",
                 "test_lab_outcomes_1.py", "test_hostile.py", "test_lab_outcomes_2.py",
                 "test_postgres.py", "test_step_interpose.py", "test_step_matrix_sql.py",
                 "test_repro.py", "test_fuzz_http.py", "test_faults.py", "test_engine.py",
                 "test_partitioned.py",
                 "test_own_server.py", "test_leftovers.py", "test_step.py", "test_load.py",
                 "test_ui_browser.py", "test_interop.py", "test_power_loss.py", "test_checker.py",
                 "test_swimlane.py", "test_ui_api.py", "test_oncall.py", "test_checker_stores.py",
                 "test_step_matrix_files.py", "test_ui_live.py", "test_compare.py")  # fmt: skip


def pytest_collection_modifyitems(items):
    """Collect the longest files first (longest-processing-time-first scheduling).

    xdist keeps this order only with --no-loadscope-reorder (the Makefile passes it);
    otherwise it hands out the files with the most tests first.
    """
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


ALL_TARGETS = [(backend, name) for backend, names in STRATEGIES.items() for name in names]


@pytest.fixture(params=ALL_TARGETS, ids=lambda t: f"{t[0]}:{t[1]}")
def target(request):
    """Every backend and strategy, in turn."""
    return request.param


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """One private PostgreSQL server for the session (tests get their own databases)."""
    require_postgres()
    cluster = pgcluster.Cluster(tmp_path_factory.mktemp("pg") / "pgdata")
    cluster.init()
    conninfo = cluster.start()
    yield {"conninfo": conninfo, "made": 0}
    cluster.stop()


@pytest.fixture
def postgres_database(postgres_server) -> str:
    """A connection string to a new, empty database on the session's server."""
    postgres_server["made"] += 1
    name = f"t{postgres_server['made']}"
    with psycopg.connect(postgres_server["conninfo"], autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return postgres_server["conninfo"].replace("/postgres?", f"/{name}?")


@pytest.fixture
def app(target, tmp_path, request):
    """A Flask app on a fresh store (3 skus of 10 units)."""
    backend, strategy = target
    fresh = False
    if store_class(backend, strategy).takes_database_url:
        # One database per test process, its tables replaced per test: CREATE DATABASE
        # costs ten times what --reset does, and hundreds of tests start from a new store.
        url = request.getfixturevalue("postgres_server")["conninfo"]
        (tmp_path / "database.url").write_text(url)
        fresh = True
    init_store(backend, strategy, tmp_path, reset=fresh, skus=3, stock=10)
    app = create_app(
        {"BACKEND": backend, "STRATEGY": strategy, "DATA_DIR": str(tmp_path), "TESTING": True}
    )
    yield app
    app.extensions["store"].close()


@pytest.fixture
def client(app):
    """A test client for app."""
    return app.test_client()


@pytest.fixture
def store_file(app, tmp_path):
    """The path of app's store file."""
    return tmp_path / app.extensions["store"].filename

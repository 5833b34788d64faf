"""Fixtures: an app per backend x strategy on a temporary store, and live servers."""

import pytest

from servers import STRATEGIES, create_app, init_store

ALL_TARGETS = [(backend, name) for backend, names in STRATEGIES.items() for name in names]


@pytest.fixture(params=ALL_TARGETS, ids=lambda t: f"{t[0]}:{t[1]}")
def target(request):
    """Every backend and strategy, in turn."""
    return request.param


@pytest.fixture
def app(target, tmp_path):
    """A Flask app on a fresh store (3 skus of 10 units)."""
    backend, strategy = target
    init_store(backend, strategy, tmp_path, skus=3, stock=10)
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

"""The list of strategies is plain data, and a server loads only its own backend's code."""

import re

import pytest

from servers.registry import STRATEGIES, find_strategy
from servers.storage import Store
from tests.live import served

# A line of the interpreter's verbose log (python -v) for each module it loads, however
# imported (-X importtime leaves out what importlib.import_module loads).
IMPORTED = re.compile(r"^import '([\w.]+)' #", re.M)
POSTGRES_CODE = {"psycopg", "pgcluster", "servers.postgres_store.strategies"}
SQL_CODE = {"sqlalchemy", "servers.sqlite_store.strategies", *POSTGRES_CODE}


def test_every_strategy_names_the_store_class_of_its_own_backend():
    for backend, names in STRATEGIES.items():
        for name, strategy in names.items():
            cls = strategy.store_class()
            assert issubclass(cls, Store) and strategy.name == name, strategy
            assert cls.__module__.startswith(f"servers.{backend}_store."), strategy


def test_an_unknown_strategy_is_refused_by_backend_and_name():
    with pytest.raises(KeyError, match="no strategy 'nope' for backend 'json'"):
        find_strategy("json", "nope")


def served_imports(tmp_path, monkeypatch, backend: str, strategy: str, workers=1) -> set[str]:
    """Start `racelab serve`, wait until it answers /health, stop it; return what it imported."""
    monkeypatch.setenv("PYTHONVERBOSE", "1")  # its import log, on its stderr
    with served(tmp_path, backend, strategy, workers):
        pass  # served() returns once the store is open and the app answers
    return {m for log in tmp_path.glob("*.log") for m in IMPORTED.findall(log.read_text())}


@pytest.mark.parametrize(
    ("backend", "strategy", "workers", "needed", "foreign"),
    [
        ("json", "naive", 1, {"flask", "servers.json_store.strategies"}, SQL_CODE),
        # gunicorn's master, which its workers fork from; without its control socket's thread
        ("json", "file-lock", 2, {"gunicorn", "servers.json_store.strategies"},
         {*SQL_CODE, "gunicorn.ctl.server"}),
        # sqlalchemy shows in the log where it is loaded: its absence above is no accident
        ("sqlite", "transactional", 1, {"sqlalchemy", "servers.sqlite_store.strategies"},
         POSTGRES_CODE),
    ],
)  # fmt: skip
def test_a_server_imports_its_own_backends_code_and_no_other(
    tmp_path, monkeypatch, backend, strategy, workers, needed, foreign
):
    imported = served_imports(tmp_path, monkeypatch, backend, strategy, workers)
    assert needed <= imported
    assert imported & foreign == set()

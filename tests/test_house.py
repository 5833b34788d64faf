"""The shape of the house: one source for each list, no two modules that import each other,
and a server that loads only its own backend's code (the list of strategies is plain data)."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from checker.checks import CHECKS, columns
from racelab.report.verdicts import COLUMNS
from servers import STRATEGIES
from servers.registry import find_strategy
from servers.storage import Store
from tests.live import served

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("history", "servers", "loadtests", "checker", "racelab")
CONTRACT = (ROOT / "docs" / "contract.md").read_text()


def module_name(path: Path) -> str:
    """Return the dotted name of a module file under ROOT."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Return the project modules a file imports, at any depth in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from servers import validation` imports the submodule, not the package's
            # __init__ (which may itself import the module doing the importing).
            modules = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [m for m in modules if m in known] or [node.module]
        found |= {name for name in names if name in known}
    return found


def import_graph() -> dict[str, set[str]]:
    """Return module -> the project modules it imports."""
    files = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    return {name: imports_of(path, set(files)) - {name} for name, path in files.items()}


def test_no_two_modules_import_each_other():
    graph = import_graph()
    pairs = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph[b]})
    assert pairs == []


def test_the_checker_is_an_independent_oracle():
    graph = import_graph()
    checker = {m: deps for m, deps in graph.items() if m.split(".")[0] == "checker"}
    assert checker, "the walk found no checker modules"
    for module, deps in checker.items():
        assert not {d for d in deps if d.split(".")[0] in ("servers", "loadtests")}, module


def test_the_contract_documents_every_strategy_and_no_other():
    rows = re.findall(r"^\| (json|sqlite|postgres) \| `([a-z-]+)` \|", CONTRACT, flags=re.M)
    assert sorted(rows) == sorted((b, s) for b, names in STRATEGIES.items() for s in names)


def test_every_strategy_says_why_and_what_to_expect():
    for names in STRATEGIES.values():
        for cls in names.values():
            assert cls.why.endswith(".") and cls.expected(1) in ("held", "failed"), cls


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


def test_the_contract_documents_every_anomaly_class_and_no_other():
    section = CONTRACT.split("| class | found when |", 1)[1].split("\n\n", 1)[0]
    assert re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M) == list(CHECKS)


def test_the_verdict_table_counts_every_class_that_has_a_column():
    counted = [name for names in columns().values() for name in names]
    assert sorted(counted) == sorted(n for n, c in CHECKS.items() if c.column)
    assert [c for c in COLUMNS if c in columns()] == list(columns())


def test_the_contract_names_every_anomaly_class_and_tables_claims_against_what_specs_show():
    from racelab.step.guarantees import guarantee_table

    for name, check in CHECKS.items():
        assert check.known_as and f"| `{name}` | {check.known_as} |" in CONTRACT
    assert guarantee_table() in CONTRACT
    for names in STRATEGIES.values():
        assert all(cls.claims for cls in names.values())


def source_files():
    """Yield every project module (not tests, not benchmarks)."""
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_no_function_is_over_40_lines_and_no_module_far_over_300():
    long = []
    for path in source_files():
        text = path.read_text()
        if len(text.splitlines()) > 320:
            long.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > 40:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {size}")
    assert long == []


def test_input_errors_become_exit_2_in_one_place():
    # racelab/cli/errors.py says how a command stops; nothing else picks an exit 2 by hand.
    by_hand = [
        str(path.relative_to(ROOT))
        for path in source_files()
        if re.search(r"SystemExit\(2\)|exit\(2\)", path.read_text())
        and path != ROOT / "racelab" / "cli" / "errors.py"
    ]
    assert by_hand == []


BUILTIN_ERRORS = {
    name
    for name, value in vars(__import__("builtins")).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


def class_bases() -> list[tuple[str, str, list[str]]]:
    """Return (module, class name, base names) for every class the project defines."""
    found = []
    # pgcluster/watcher.py runs as `python -I watcher.py`, standard library only.
    scripts = {ROOT / "pgcluster" / "watcher.py"}
    for path in [*source_files(), *sorted(set((ROOT / "pgcluster").rglob("*.py")) - scripts)]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [getattr(b, "id", getattr(b, "attr", "")) for b in node.bases]
                found.append((module_name(path), node.name, bases))
    return found


def exception_classes() -> list[tuple[str, str, list[str]]]:
    """Return the classes that subclass a built-in exception, directly or through ours."""
    classes, names = class_bases(), set(BUILTIN_ERRORS)
    while new := {n for _, n, bases in classes if n not in names and names & set(bases)}:
        names |= new
    return [c for c in classes if c[1] in names and c[1] not in BUILTIN_ERRORS]


def test_every_exception_descends_from_racelab_error_under_a_name_of_its_own():
    errors = exception_classes()
    bases = {name: set(found) for _, name, found in errors}
    rooted = {"RacelabError"}
    while new := {n for n, found in bases.items() if n not in rooted and rooted & found}:
        rooted |= new
    assert [f"{module}.{name}" for module, name, _ in errors if name not in rooted] == []
    names = [name for _, name, _ in errors]
    assert sorted({n for n in names if names.count(n) > 1}) == []
    assert len(errors) > 40, "the walk missed the exception classes"


def test_the_exception_root_loads_nothing_else():
    # history/, servers/, loadtests/ and the checker import it: it must not bring racelab in.
    graph = import_graph()
    assert graph["racelab.exceptions"] == set() and graph["racelab"] == set()


def test_k6_and_locust_run_the_same_default_mixes_as_racelab_load():
    # k6 runs JavaScript, so its script keeps a copy of the mixes; this holds it to the one
    # source (loadtests/plan.py), from which the locustfile's task weights are derived.
    from loadtests.plan import WORKLOADS, parse_mix

    script = (ROOT / "loadtests" / "k6" / "orders.js").read_text()
    mixes = re.search(r"const MIXES = \{(.*?)\};", script).group(1)
    assert dict(re.findall(r'(\w+): "([a-z=0-9,]+)"', mixes)) == WORKLOADS
    # Locust patches the interpreter with gevent when imported: ask a process of its own.
    ask = ("import collections, json; from loadtests.locustfile import OnCallUser, OrderUser; "
           "print(json.dumps({u.__name__: collections.Counter(t.__name__ for t in u.tasks) "
           "for u in (OrderUser, OnCallUser)}))")  # fmt: skip
    found = json.loads(subprocess.run([sys.executable, "-c", ask], capture_output=True,
                                      text=True, check=True, cwd=ROOT).stdout)  # fmt: skip
    assert found == {"OrderUser": parse_mix(WORKLOADS["orders"]),
                     "OnCallUser": parse_mix(WORKLOADS["oncall"])}  # fmt: skip

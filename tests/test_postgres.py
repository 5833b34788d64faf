"""The PostgreSQL target: private servers, a shared database, and isolation levels live; and
racelab's tables: it touches only the tables it made, and keeps its URL private."""

import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from checker import check
from history import read_history
from racelab.compare.process import start_server, stop_server
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec, parse_spec
from racelab.step.runner import run_permutation
from racelab.step.spec import is_serial, load_spec
from servers import init_store
from servers.postgres_store.store import PostgresStore
from shapes.reports import CheckReport, from_json
from tests.live import RACE_CAP_S, hammer, require_postgres, served

SPECS = Path(__file__).resolve().parent.parent / "specs"


def racelab(*args, env=None) -> subprocess.CompletedProcess:
    """Run the racelab command line as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "racelab", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_without_postgresql_serve_says_how_to_install_it_and_exits_2(tmp_path):
    result = racelab("serve", "postgres", "--data-dir", tmp_path / "d", "--port", "0",
                     env={"RACELAB_PG_BINDIR": str(tmp_path)})  # fmt: skip
    assert result.returncode == 2
    assert "apt-get install postgresql" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_database_url_is_refused_for_a_file_store(tmp_path):
    result = racelab("serve", "json", "--data-dir", tmp_path, "--port", "0",
                     "--database-url", "postgresql://racelab@/x")  # fmt: skip
    assert result.returncode == 2
    assert "--database-url" in result.stderr and "Traceback" not in result.stderr


def postgres_processes(pgdata) -> list[str]:
    """Return the command lines of live processes serving pgdata."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                line = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "postgres" in line and str(pgdata) in line:
            found.append(line)
    return found


def test_a_private_server_lives_in_the_data_dir_and_stops_with_serve(tmp_path):
    with served(tmp_path, "postgres", "naive", workers=2, skus=2, stock=10) as (url, data_dir):
        hammer(url, tmp_path / "h.jsonl", RACE_CAP_S, vus=4, max_requests=40)
        assert postgres_processes(data_dir / "pgdata")
    log = (tmp_path / "postgres-naive-2w.log").read_text()
    if os.geteuid() == 0:
        assert "run as user" in log and "refuses to run as root" in log
    assert postgres_processes(data_dir / "pgdata") == []
    # The checker reads the stopped store by starting its server for the while.
    report = check(data_dir, read_history(tmp_path / "h.jsonl"), min_overlaps=0)
    assert report.store.backend == "postgres" and report.store.orders > 0
    assert postgres_processes(data_dir / "pgdata") == []


def test_two_app_servers_share_one_database_by_url(tmp_path, postgres_database):
    # Two app machines, one database: each load goes to its own server, at the same time.
    spec = TargetSpec("postgres", "transactional", 2)
    settings = Settings(skus=2, stock=100_000)
    extra = ("--database-url", postgres_database)
    first, url_a = start_server(spec, tmp_path / "a", settings, tmp_path / "a.log", extra=extra)
    second, url_b = start_server(spec, tmp_path / "b", settings, tmp_path / "b.log",
                                 reset=False, extra=extra)  # fmt: skip
    try:
        loads = [
            threading.Thread(target=hammer, args=(url, tmp_path / f"{n}.jsonl", RACE_CAP_S),
                             kwargs={"vus": 10, "max_requests": 300, "seed": seed})
            for n, url, seed in (("a", url_a, 1), ("b", url_b, 2))
        ]  # fmt: skip
        for load in loads:
            load.start()
        for load in loads:
            load.join()
    finally:
        stop_server(first)
        stop_server(second)
    merged = racelab("history", "merge", tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    # Each load reads the stock as it starts; the merge takes the reading no write preceded
    # (loadtests/interop.py), or a load that read after the other had sold shows a mismatch.
    (tmp_path / "both.jsonl").write_text(merged.stdout)
    with psycopg.connect(postgres_database) as db:
        assert db.execute("SELECT count(*) FROM orders").fetchone()[0] > 0
    result = racelab("check", postgres_database, "--history", tmp_path / "both.jsonl",
                     "--min-overlaps", 0, "--json")  # fmt: skip
    report = from_json(result.stdout, CheckReport)  # the documented JSON, read typed
    assert report.store.backend == "postgres"
    assert report.verdict == "held", report.examples
    assert report.history.creates.ok > 100


def test_repeatable_read_refuses_conflicting_writes_instead_of_losing_them(tmp_path):
    require_postgres()
    with served(tmp_path, "postgres", "repeatable-read", 4) as (url, data_dir):
        summary = hammer(url, tmp_path / "h.jsonl", RACE_CAP_S, max_requests=400)
    report = check(data_dir, read_history(tmp_path / "h.jsonl"))
    assert report.verdict == "held", report.anomalies
    # The documented error, not a lost update (a client records any 503 as indeterminate).
    statuses = {r.get("status") for r in read_history(tmp_path / "h.jsonl").ops}
    assert 503 in statuses and 201 in statuses, summary


def test_serializable_retries_and_says_how_many_times(tmp_path):
    # (The live ladder holds it to RACE_REQUESTS; a few hundred writes show the retries.)
    with served(tmp_path, "postgres", "serializable", 4) as (url, data_dir):
        hammer(url, tmp_path / "h.jsonl", RACE_CAP_S, max_requests=400)
    report = check(data_dir, read_history(tmp_path / "h.jsonl"))
    assert report.verdict == "held", report.anomalies
    assert "serializable: a write took" in (tmp_path / "postgres-serializable-4w.log").read_text()


def test_hermitage_lost_update_row_refuses_at_repeatable_read_and_retries_at_serializable():
    # A reads, B reads, A writes, B writes (and waits for A's row), then A commits.
    require_postgres()
    spec = load_spec(SPECS / "isolation-levels.toml")
    interleaved = [p for p in spec.permutations if not is_serial(p)][0]
    answers = {}
    for strategy in ("repeatable-read", "serializable"):
        outcome = run_permutation(spec, parse_spec(f"postgres:{strategy}@4"), interleaved)
        answers[strategy] = {
            a.session: (a.status, (a.body or {}).get("error")) for a in outcome.answers
        }
        assert outcome.verdict == "held"
    assert answers["repeatable-read"] == {"A": (201, None), "B": (503, "busy")}
    assert answers["serializable"] == {"A": (201, None), "B": (409, "out_of_stock")}


# The mark docs/contract.md documents on racelab's own tables.
MARK = "racelab store: made by racelab serve postgres; racelab serve --reset replaces it"

# Someone else's tables: an items unlike racelab's, and an orders exactly like racelab's
# (a look-alike is still not racelab's to reuse or drop).
FOREIGN = {
    "items": (
        "CREATE TABLE items (code TEXT, price NUMERIC)",
        "INSERT INTO items VALUES ('theirs', 9.5)",
    ),
    "orders": (
        "CREATE TABLE orders (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sku TEXT,"
        " qty INTEGER, token TEXT, created_at TEXT)",
        "INSERT INTO orders (sku, qty, token, created_at) VALUES ('theirs', 1, 't', 'now')",
    ),
}


def serve_on_a_taken_port(data_dir, url, *extra) -> subprocess.CompletedProcess:
    """Run `racelab serve postgres --database-url URL` on a port already in use.

    The store is prepared before the port is bound: a serve that accepts the database
    exits 1 at the port instead of serving for ever, and one that refuses it exits 2.
    """
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        return subprocess.run(
            [sys.executable, "-m", "racelab", "serve", "postgres", "--data-dir", str(data_dir),
             "--database-url", url, "--port", str(taken.getsockname()[1]), *map(str, extra)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip


def tables(url) -> dict[str, list[tuple]]:
    """Return every table in the database's public schema with its rows."""
    with psycopg.connect(url) as db:
        names = db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        return {n: db.execute(f'SELECT * FROM "{n}" ORDER BY 1').fetchall() for (n,) in names}


def marks(url) -> dict[str, str | None]:
    """Return the comment on each of racelab's two tables."""
    with psycopg.connect(url) as db:
        query = "SELECT obj_description(to_regclass(%s), 'pg_class')"
        return {t: db.execute(query, [t]).fetchone()[0] for t in ("items", "orders")}


@pytest.mark.parametrize("reset", [(), ("--reset",)], ids=["kept", "reset"])
@pytest.mark.parametrize("table", sorted(FOREIGN))
def test_a_table_racelab_did_not_create_is_named_and_left_intact(
    tmp_path, postgres_database, table, reset
):
    with psycopg.connect(postgres_database, autocommit=True) as db:
        for statement in FOREIGN[table]:
            db.execute(statement)
    before = tables(postgres_database)
    result = serve_on_a_taken_port(tmp_path, postgres_database, *reset)
    assert result.returncode == 2, result.stderr
    assert f"racelab did not create: {table}" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 2
    # Nothing dropped, altered or added: not even racelab's other table.
    assert tables(postgres_database) == before


def test_racelab_reuses_its_own_tables_and_replaces_them_only_with_reset(
    tmp_path, postgres_database
):
    (tmp_path / "database.url").write_text(postgres_database)
    init_store("postgres", "naive", tmp_path, skus=2, stock=10)
    assert marks(postgres_database) == {"items": MARK, "orders": MARK}  # docs/contract.md
    with psycopg.connect(postgres_database, autocommit=True) as db:
        db.execute("UPDATE items SET stock = 9 WHERE sku = 'sku-1'")
        db.execute("INSERT INTO orders (sku, qty, token, created_at) VALUES ('sku-1', 1, 'a', 'x')")
        db.execute("CREATE TABLE theirs (n INTEGER)")
    kept = tables(postgres_database)
    result = serve_on_a_taken_port(tmp_path / "again", postgres_database)
    assert result.returncode == 1 and "cannot listen" in result.stderr, result.stderr
    assert tables(postgres_database) == kept
    result = serve_on_a_taken_port(
        tmp_path / "again", postgres_database, "--reset", "--skus", 2, "--stock", 10
    )
    assert result.returncode == 1 and "cannot listen" in result.stderr, result.stderr
    after = tables(postgres_database)
    assert {name: after[name] for name in ("items", "orders", "theirs")} == {
        "items": [("sku-1", 10), ("sku-2", 10)],
        "orders": [],
        "theirs": [],
    }
    assert {"shifts", "on_call", "leaves"} <= set(after)  # the on-call rota, seeded anew


def test_a_table_racelab_made_then_lost_is_refused_not_silently_recreated(
    tmp_path, postgres_database
):
    (tmp_path / "database.url").write_text(postgres_database)
    init_store("postgres", "naive", tmp_path, skus=2, stock=10)
    with psycopg.connect(postgres_database, autocommit=True) as db:
        db.execute("DROP TABLE orders")
        db.execute(FOREIGN["orders"][0])
    result = serve_on_a_taken_port(tmp_path, postgres_database, "--reset")
    # racelab's own items survives too: the refusal comes before any drop.
    assert result.returncode == 2 and "racelab did not create: orders" in result.stderr
    assert tables(postgres_database)["items"] == [("sku-1", 10), ("sku-2", 10)]


def mode_of(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_database_url_is_written_for_its_owner_only(tmp_path):
    url = "postgresql://racelab:secret@db.example/shop"
    (tmp_path / "elsewhere").write_text("not racelab's\n")
    (tmp_path / "database.url").symlink_to(tmp_path / "elsewhere")
    previous = os.umask(0o022)  # the usual umask, under which a plain write is world-readable
    try:
        with PostgresStore.serving(tmp_path, url) as note:
            written = tmp_path / "database.url"
            assert not written.is_symlink() and mode_of(written) == 0o600
            assert written.read_text() == url + "\n"
    finally:
        os.umask(previous)
    assert "secret" not in note
    assert (tmp_path / "elsewhere").read_text() == "not racelab's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["database.url", "elsewhere"]


def test_a_private_server_writes_database_url_for_its_owner_only(tmp_path):
    require_postgres()
    previous = os.umask(0o022)
    try:
        with PostgresStore.serving(tmp_path):
            assert mode_of(tmp_path / "database.url") == 0o600
    finally:
        os.umask(previous)

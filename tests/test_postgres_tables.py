"""racelab's PostgreSQL tables: it touches only the tables it made, and keeps its URL private."""

import os
import socket
import stat
import subprocess
import sys

import psycopg
import pytest

from servers import init_store
from servers.postgres_store.store import PostgresStore
from tests.live import require_postgres

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

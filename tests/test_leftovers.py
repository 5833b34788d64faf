"""Whatever stops racelab, nothing it started is left behind: no server, no worker, no folder.

Each test runs `racelab compare` or `racelab step` with everything it makes under the test's
own folder (--out, and TMPDIR for temporary folders), so that a process whose command line
names that folder was started by this run and no other: `ps` counts exactly its leftovers.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

DEADLINE_S = 30.0  # for a moment to come or a process to end; a busy machine is slow, not stuck
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
TARGET_SLUG = "json-naive-2w"

# Every interleaving of two creates, run a hundred times (STEP_RUNS): 600 permutations.
# One permutation would not do: a step blocked on json:file-lock's lock is known at once
# (the lock sends a wait notice, not a --block-wait), so it ends within milliseconds of its
# server's start, and a signal meant for the middle of the run could land after its end (a
# fresh clone's CI saw "held (blocked)" where "stopped by SIGINT" was due). 600 last
# seconds on any machine, so the signal lands mid-run whatever its speed.
BLOCKING_SPEC = """
name = "A and B create, each interleaving"
setup = { skus = 1, stock = 5 }

[[session]]
name = "A"
requests = [{ op = "create", sku = "sku-1", qty = 1, token = "a1" }]

[[session]]
name = "B"
requests = [{ op = "create", sku = "sku-1", qty = 1, token = "b1" }]
"""


def ours(folder: Path) -> list[str]:
    """Return `ps` lines of the processes whose command line names folder."""
    out = subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True)
    return [line.strip() for line in out.stdout.splitlines() if str(folder) in line]


def racelab(folder: Path, *args) -> subprocess.Popen:
    """Start racelab as a terminal would, its temporary folders inside folder/tmp."""
    (folder / "tmp").mkdir()
    with open(folder / "stdout", "w") as out, open(folder / "stderr", "w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "racelab", *map(str, args)],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "TMPDIR": str(folder / "tmp")},
            # A shell running us in the background ignores SIGINT and a child inherits that;
            # at a terminal it is at its default.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def wait_until(condition, what: str, process: subprocess.Popen) -> None:
    """Poll condition until it holds; fail if the deadline passes or racelab ends first."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert process.poll() is None, f"racelab ended before {what}: {process.returncode}"
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE_S:g} s"
        time.sleep(0.01)


def signal_now(process: subprocess.Popen, signum: int) -> None:
    """Send signum while racelab is surely still at the moment (stopped, then continued)."""
    os.kill(process.pid, signal.SIGSTOP)
    assert process.poll() is None, "racelab ended before the signal could be sent"
    os.kill(process.pid, signum)
    os.kill(process.pid, signal.SIGCONT)


def assert_nothing_left(folder: Path, process: subprocess.Popen, signum: int, verb: str):
    """racelab exits 128 + signum with one line, and leaves no process and no temp folder."""
    process.wait(DEADLINE_S)
    stderr = (folder / "stderr").read_text()
    deadline = time.monotonic() + DEADLINE_S
    while ours(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ours(folder) == []
    assert list((folder / "tmp").iterdir()) == []
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1] == f"racelab {verb}: stopped by {signal.Signals(signum).name}"
    assert process.returncode == STATUS[signum]


def server_started(folder: Path):
    return lambda: any(" serve " in line for line in ours(folder))


def history_written(folder: Path):
    path = folder / "out" / TARGET_SLUG / "history.jsonl"
    return lambda: path.exists() and path.read_bytes().count(b"\n") >= 2


def load_summarized(folder: Path):
    return lambda: (folder / "out" / TARGET_SLUG / "load.json").exists()


COMPARE_MOMENTS = {"starting": server_started, "loading": history_written,
                   "checking": load_summarized}  # fmt: skip


def start_compare(folder: Path) -> subprocess.Popen:
    """A one-target compare: two gunicorn workers, a second of load."""
    return racelab(folder, "compare", "--targets", "json:naive@2", "--duration", "1s", "--vus",
                   "4", "--out", folder / "out")  # fmt: skip


@pytest.mark.parametrize("moment", COMPARE_MOMENTS)
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_compare_leaves_nothing_behind(tmp_path, signum, moment):
    """SIGINT, SIGTERM or SIGHUP while it starts, loads or checks: its server and workers go."""
    process = start_compare(tmp_path)
    try:
        wait_until(COMPARE_MOMENTS[moment](tmp_path), moment, process)
        signal_now(process, signum)
        assert_nothing_left(tmp_path, process, signum, "compare")
    finally:
        process.kill()
        process.wait()


def test_compare_killed_outright_takes_its_server_with_it(tmp_path):
    """SIGKILL runs no cleanup of racelab's: the kernel tells the server and its workers."""
    process = start_compare(tmp_path)
    try:
        wait_until(history_written(tmp_path), "loading", process)
        process.kill()
        process.wait()
        deadline = time.monotonic() + DEADLINE_S
        while ours(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ours(tmp_path) == []
    finally:
        process.kill()
        process.wait()


def step_server_announced(folder: Path):
    """The stepped server is up: from here racelab drives it through the permutations."""
    return lambda: any(
        " on http://" in log.read_text() for log in (folder / "tmp").glob("*/server.log")
    )


STEP_MOMENTS = {"starting": server_started, "mid-permutation": step_server_announced}
STEP_RUNS = 100  # --repeat's most


@pytest.mark.parametrize("moment", STEP_MOMENTS)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM],
                         ids=lambda s: signal.Signals(s).name)  # fmt: skip
def test_step_leaves_nothing_behind(tmp_path, signum, moment):
    """A signal while its server starts or mid-permutation: the server and store folder go."""
    spec = tmp_path / "blocking.toml"
    spec.write_text(BLOCKING_SPEC)
    process = racelab(tmp_path, "step", spec, "--target", "json:file-lock", "--repeat", STEP_RUNS)
    try:
        wait_until(STEP_MOMENTS[moment](tmp_path), moment, process)
        signal_now(process, signum)
        assert_nothing_left(tmp_path, process, signum, "step")
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_stops_when_its_terminal_closes(tmp_path, workers):
    """SIGHUP stops `racelab serve` and its workers (gunicorn's own would reload them)."""
    process = racelab(tmp_path, "serve", "json", "--data-dir", tmp_path / "data", "--port", "0",
                      "--workers", workers)  # fmt: skip
    try:
        announced = lambda: " on http://" in (tmp_path / "stdout").read_text()  # noqa: E731
        wait_until(announced, "its address", process)
        signal_now(process, signal.SIGHUP)
        assert process.wait(DEADLINE_S) == 0
        assert ours(tmp_path) == []
        assert "Traceback" not in (tmp_path / "stderr").read_text()
    finally:
        process.kill()
        process.wait()


def test_ui_killed_outright_takes_the_server_it_steps_with_it(tmp_path):
    """A stepped server the ui starts from a request's thread still dies with the ui."""
    process = racelab(tmp_path, "ui", "--port", "0", "--runs", tmp_path / "runs")
    try:
        printed = lambda: "http://" in (tmp_path / "stderr").read_text()  # noqa: E731
        wait_until(printed, "its address", process)
        url = (tmp_path / "stderr").read_text().split("http://", 1)[1].split()[0]
        body = json.dumps({"spec": "last-item-oversold", "target": "json:naive@1"}).encode()
        request = urllib.request.Request(f"http://{url.rstrip('/')}/api/step", body,
                                         {"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=DEADLINE_S) as answer:
            assert answer.status == 201
        assert any("racelab serve" in line for line in ours(tmp_path))
        process.kill()
        process.wait()
        deadline = time.monotonic() + DEADLINE_S
        while ours(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ours(tmp_path) == []
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def large_run(tmp_path_factory):
    """A history and store.json of 120k operations: a partitioned check of them lasts long
    enough, on any machine, to be stopped while it works."""
    from benchmarks.checker_scale import write_data

    history, store, _ = write_data(tmp_path_factory.mktemp("large"), 120_000)
    return history, store


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_partitioned_check_leaves_no_partition_behind(tmp_path, large_run, signum):
    """Stopped while its partitions are on disk, check removes them and every thread ends."""
    history, store = large_run
    process = racelab(tmp_path, "check", store, "--history", history, "--partitions", "6")
    try:
        wait_until(lambda: any((tmp_path / "tmp").glob("racelab-check-*/writes")),
                   "partitioning", process)  # fmt: skip
        signal_now(process, signum)
        assert_nothing_left(tmp_path, process, signum, "check")
    finally:
        process.kill()
        process.wait()

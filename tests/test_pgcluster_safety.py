"""The private PostgreSQL run as root: no link in its folders turns racelab against the
machine, and no server or socket folder outlives the process that started it."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import pgcluster
from tests.live import require_postgres

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 20.0
# A child that runs a cluster, says where, and waits to be killed.
CHILD = """
import sys, time, pgcluster
cluster = pgcluster.Cluster(sys.argv[1])
cluster.init()
print(cluster.start(), flush=True)
time.sleep(120)
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="these are the risks of running as root")


@pytest.fixture(scope="module")
def pgdata(tmp_path_factory):
    """One stopped cluster for the module's tests."""
    require_postgres()
    cluster = pgcluster.Cluster(tmp_path_factory.mktemp("pg") / "pgdata")
    cluster.init()
    return cluster.pgdata


@pytest.fixture
def victim(tmp_path):
    """A root-owned file a link in the server's folders might aim at."""
    path = tmp_path / "victim"
    path.write_text("root's own\n")
    os.chmod(path, 0o600)
    return path


def assert_untouched(victim: Path) -> None:
    info = victim.stat()
    assert (info.st_uid, info.st_gid) == (0, 0)
    assert victim.read_text() == "root's own\n"


def start_refused(pgdata: Path) -> str:
    """Start a cluster on pgdata, which must be refused; return the error's message."""
    cluster = pgcluster.Cluster(pgdata)
    try:
        with pytest.raises(pgcluster.ClusterError) as caught:
            cluster.start()
    finally:
        cluster.stop()  # the code as it was started one
    return str(caught.value)


@pytest.mark.parametrize("link", [os.symlink, os.link], ids=["symlink", "hard link"])
def test_a_server_log_that_is_a_link_is_refused_and_its_target_untouched(pgdata, victim, link):
    log = pgdata / "server.log"
    log.unlink(missing_ok=True)
    link(victim, log)
    try:
        message = start_refused(pgdata)
    finally:
        log.unlink()
    assert str(log) in message
    assert_untouched(victim)


def test_a_data_dir_holding_a_symlink_is_refused_and_named(pgdata, victim):
    planted = pgdata / "pg_stat_tmp" / "planted"
    planted.symlink_to(victim)
    try:
        message = start_refused(pgdata)
    finally:
        planted.unlink()
    assert f"{planted} is a symbolic link" in message
    assert_untouched(victim)


def test_postmaster_pid_does_not_choose_a_folder_to_delete(pgdata):
    # A postmaster.pid the server's user wrote, naming a dead pid and a folder of ours.
    ours = Path(tempfile.mkdtemp(prefix="racelab-pg-", dir=tempfile.gettempdir()))
    dead = _a_dead_pid()
    (pgdata / "postmaster.pid").write_text(f"{dead}\n{pgdata}\n0\n5432\n{ours}\n\n\n\n")
    cluster = pgcluster.Cluster(pgdata)
    try:
        cluster.start()
        assert ours.is_dir()
    finally:
        cluster.stop()
        ours.rmdir()


def _a_dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()  # reaped: the pid names no process (until it is handed out again)
    return child.pid


def test_the_template_is_ours_and_one_holding_a_link_is_refused(tmp_path, victim, monkeypatch):
    require_postgres()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pgcluster.Cluster(tmp_path / "first").init()
    [template] = (tmp_path / "cache" / "racelab").iterdir()
    owners = {p.lstat().st_uid for p in [template, *template.rglob("*")]}
    assert owners == {0}
    planted = template / "global" / "planted"
    planted.symlink_to(victim)
    with pytest.raises(pgcluster.ClusterError) as caught:
        pgcluster.Cluster(tmp_path / "second").init()
    assert f"{planted} is a symbolic link" in str(caught.value)
    assert_untouched(victim)


def test_a_cluster_is_not_copied_into_a_folder_already_there(tmp_path, victim):
    require_postgres()
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "global").symlink_to(victim.parent)  # a copy into it would land beside victim
    with pytest.raises(pgcluster.ClusterError) as caught:
        pgcluster.Cluster(pgdata).init()
    assert str(pgdata) in str(caught.value)
    assert sorted(p.name for p in victim.parent.iterdir()) == ["pgdata", "victim"]
    assert victim.parent.stat().st_uid == 0


def test_a_server_that_fails_at_start_leaves_no_socket_folder(tmp_path, monkeypatch):
    require_postgres()
    temp = Path(tempfile.mkdtemp(prefix="t", dir="/tmp"))  # short: a socket path is capped
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    cluster = pgcluster.Cluster(tmp_path / "pgdata")
    cluster.init()
    with open(cluster.pgdata / "postgresql.auto.conf", "a") as conf:
        conf.write("max_connections = 'many'\n")
    try:
        with pytest.raises(pgcluster.ClusterError, match="exited at start"):
            cluster.start()
        assert list(temp.iterdir()) == []
    finally:
        cluster.stop()
        subprocess.run(["rm", "-rf", str(temp)], check=True)


@pytest.mark.parametrize("kill", ["process", "group"])
def test_a_killed_starter_leaves_no_server_and_no_socket_folder(tmp_path, kill):
    require_postgres()
    pgdata = tmp_path / "pgdata"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(pgdata)], cwd=ROOT, stdout=subprocess.PIPE,
        start_new_session=True, text=True,
    )  # fmt: skip
    try:
        with child.stdout:
            socket_dir = child.stdout.readline().split("host=")[1].split("&")[0]
        assert _servers_on(pgdata) and Path(socket_dir).is_dir()
        if kill == "process":
            child.kill()  # the child alone: its server is left to the watcher
        else:
            os.killpg(child.pid, signal.SIGKILL)  # a fault: the server dies with the child
        child.wait()
        deadline = time.monotonic() + DEADLINE_S
        while (_servers_on(pgdata) or Path(socket_dir).exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _servers_on(pgdata) == []
        assert not Path(socket_dir).exists()
    finally:
        for pid in _servers_on(pgdata):  # the code as it was left them running
            os.kill(pid, signal.SIGKILL)


def _servers_on(pgdata: Path) -> list[int]:
    """Return the pids of the processes working in pgdata (every PostgreSQL process does)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == pgdata:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids

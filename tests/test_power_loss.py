"""Power loss: a FUSE layer drops every write not fsynced; what each strategy keeps across it."""

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from racelab.interpose.disk import File
from racelab.interpose.mount import Mount, mounted
from racelab.interpose.tree import Disk
from servers.json_store.strategies import write_atomically

ROOT = Path(__file__).resolve().parent.parent

# A file's life: writes (offset, bytes), truncates (length) and fsyncs, in any order.
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 20_000), st.binary(max_size=9_000)),
        st.tuples(st.just("truncate"), st.integers(0, 20_000)),
        st.tuples(st.just("sync")),
    ),
    max_size=25,
)


@given(start=st.binary(max_size=12_000), steps=STEPS)
def test_a_file_reads_what_was_written_and_a_power_loss_leaves_what_was_fsynced(start, steps):
    file, seen, synced = File(start), bytearray(start), bytes(start)
    for step in steps:
        if step[0] == "write":
            _, offset, data = step
            file.write(offset, data)
            seen[len(seen) :] = bytes(max(0, offset - len(seen)))
            seen[offset : offset + len(data)] = data
        elif step[0] == "truncate":
            file.truncate(step[1])
            seen[step[1] :] = b""
            seen.extend(bytes(step[1] - len(seen)))
        else:
            file.sync()
            synced = bytes(seen)
        assert file.read(0, 1 << 20) == bytes(seen)
    file.lose()
    assert file.read(0, 1 << 20) == synced


def test_a_name_survives_only_once_its_folder_is_fsynced(tmp_path):
    disk = Disk.load(tmp_path)
    disk.create("/kept", 0o644).write(0, b"kept")
    disk.lookup("/kept").sync()
    disk.root.sync()
    disk.create("/new", 0o644).sync()  # its data fsynced, its name never
    disk.create("/tmp", 0o644).sync()
    disk.rename("/tmp", "/kept")  # a replace whose folder was not fsynced after
    assert disk.power_loss() == {"names": 2, "files": 0}
    assert list(disk.root.entries) == ["kept"]
    assert disk.lookup("/kept").read(0, 100) == b"kept"


def test_the_layer_drops_unsynced_writes_and_names_and_calls_its_hook(tmp_path):
    store, trace = tmp_path / "store", tmp_path / "trace.jsonl"
    store.mkdir()
    with Mount(store, tmp_path / "fuse.log", trace) as mount:
        (mount.dir / "acknowledged.txt").write_bytes(b"no fsync")
        with open(mount.dir / "synced.txt", "wb") as f:
            f.write(b"fsynced")
            f.flush()
            os.fsync(f.fileno())
        _fsync_folder(mount.dir)
        with open(mount.dir / "synced.txt", "ab") as f:
            f.write(b", then appended")
        assert (mount.dir / "synced.txt").read_bytes() == b"fsynced, then appended"
        assert mount.power_loss() == {"names": 0, "files": 2}
    assert not mounted(mount.dir)
    assert (store / "synced.txt").read_bytes() == b"fsynced"
    assert (store / "acknowledged.txt").read_bytes() == b""  # its name was fsynced, not its data
    ops = [json.loads(line)["op"] for line in trace.read_text().splitlines()]
    assert {"create", "write", "fsync", "fsyncdir", "release"} <= set(ops)


@pytest.mark.parametrize("durable", [True, False])
def test_an_atomic_replace_survives_a_power_loss_only_when_durable(tmp_path, durable):
    # durable=True is file-lock's write: before the folder was fsynced, this lost it.
    store = tmp_path / "store"
    store.mkdir()
    with Mount(store) as mount:
        write_atomically(mount.dir / "store.json", b'{"first": 1}', durable)
        write_atomically(mount.dir / "store.json", b'{"second": 2}', durable)
        mount.power_loss()
    kept = (store / "store.json").read_bytes() if (store / "store.json").exists() else None
    assert kept == (b'{"second": 2}' if durable else None)
    assert [p.name for p in store.iterdir()] == (["store.json"] if durable else [])


# Twenty acknowledged orders, then the process waits to be killed (a close would checkpoint).
SQLITE_WRITER = """
import sys
from servers.sqlite_store.strategies import TransactionalSqliteStore as Store
Store.initialize(sys.argv[1], True, 2, 100)
store = Store(sys.argv[1])
for n in range(20):
    print(store.create_order("sku-1", 1, f"t{n}")[0]["token"], flush=True)
sys.stdin.read()
"""


def test_a_transactional_sqlite_commit_survives_a_power_loss(tmp_path):
    # Under synchronous=NORMAL the WAL was not fsynced at commit, and these orders were lost.
    store = tmp_path / "store"
    store.mkdir()
    with Mount(store) as mount:
        writer = subprocess.Popen(
            [sys.executable, "-c", SQLITE_WRITER, str(mount.dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        tokens = [writer.stdout.readline().strip() for _ in range(20)]
        writer.kill()
        writer.communicate()
        mount.power_loss()
    with contextlib.closing(sqlite3.connect(store / "store.db")) as db:
        stored = [token for (token,) in db.execute("SELECT token FROM orders ORDER BY id")]
        assert db.execute("SELECT stock FROM items WHERE sku = 'sku-1'").fetchone() == (80,)
    assert tokens == [f"t{n}" for n in range(20)]
    assert stored == tokens


def _fsync_folder(folder) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def test_the_layer_unmounts_itself_when_its_parent_goes(tmp_path):
    mount = Mount(tmp_path)
    mount.start()
    assert mounted(mount.dir)
    mount.process.stdin.close()  # what a parent's death does to the pipe
    mount.process.wait(30)
    assert not mounted(mount.dir)
    mount.close()


def test_a_layer_killed_mounted_is_unmounted_when_stopped(tmp_path):
    mount = Mount(tmp_path)
    mount.start()
    mount.process.kill()  # a dead FUSE mount: os.path.ismount cannot even see it
    mount.process.wait(30)
    assert mounted(mount.dir)
    mount.close()
    assert not mounted(mount.dir) and not mount.dir.exists()


def acknowledged_before(history, at_s: float) -> int:
    """Count the creates answered ok before the cut."""
    records = [json.loads(line) for line in history.read_text().splitlines()[1:]]
    return sum(r["op"] == "create" and r["type"] == "ok" and r["t1"] < at_s for r in records)


def test_compare_power_loss_safe_strategies_keep_every_acknowledged_order(tmp_path):
    targets = "json:file-lock@4,sqlite:transactional@4,json:thread-lock@1"
    own_tmp = tmp_path / "tmp"  # its mounts' folders, apart from other runs' mounts
    own_tmp.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "racelab", "compare", "--out", str(tmp_path), "--vus", "20",
         "--duration", "3s", "--faults", "power-loss", "--targets", targets],
        capture_output=True, text=True, timeout=240, env={**os.environ, "TMPDIR": str(own_tmp)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    entries = json.loads((tmp_path / "report.json").read_text())["targets"]
    for entry in entries:
        (cut,) = entry["faults"]
        assert cut["restarted"] and "power_loss" in cut, cut
        assert acknowledged_before(tmp_path / entry["dir"] / "history.jsonl", cut["at_s"]) > 0
        assert entry["store_error"] is None
    safe, unsafe = entries[:2], entries[2]
    for entry in safe:
        assert not any(entry["anomalies"].values()), (entry["target"], entry["anomalies"])
    # thread-lock holds on one worker without faults; it never fsyncs, so the cut takes orders.
    assert unsafe["anomalies"]["lost"] > 0, unsafe["anomalies"]
    assert str(own_tmp) not in Path("/proc/mounts").read_text()


def test_without_fuse_the_layer_is_refused_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "racelab.interpose.fs", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PATH": str(tmp_path)},
        cwd=ROOT,
    )  # fmt: skip
    (line,) = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert line.startswith("racelab.interpose.fs: ") and "apt-get install fuse3" in line, line


def test_without_fuse_power_loss_is_refused_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "racelab", "compare", "--faults", "power-loss", "--out",
         str(tmp_path), "--targets", "json:file-lock"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PATH": str(tmp_path)},
    )  # fmt: skip
    (line,) = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert line.startswith("racelab compare: --faults power-loss needs FUSE: "), line
    assert "install fuse3 (apt-get install fuse3)" in line

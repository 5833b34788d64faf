"""A big history read by two processes gives the facts one process gives (checker/tail.py).

Each case writes a history file, has a real child process take blocks of it from the end
while this one takes them from the start, and compares the columns and facts with the
plain one-process reading: any cut into blocks, wherever the two meet, skus first named in
the child's blocks, tokens that cannot be joined, a bad line there, a child that dies.
"""

import contextlib
import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker import claims, tail
from checker.columns import ARRAYS
from checker.facts import history_facts
from checker.report import check
from history import HistoryError, HistoryStream
from tests.builders import (
    cancel,
    create,
    history_lines,
    order,
    write_json_store,
    write_sqlite_store,
)
from tests.test_columnar import RECORDS, indexed, parsed

ITEMS = {"sku-1": 5}
FIXTURE = HealthCheck.function_scoped_fixture  # tmp_path: each example writes its own file


def write_history(path, records) -> HistoryStream:
    """Write the records the format accepts as a history file; return its stream."""
    path.write_text("".join(line + "\n" for line in history_lines(ITEMS, parsed(records).ops)))
    return HistoryStream(path)


def split_facts(stream, fractions, reserved: int = 0, fork: bool | None = None):
    """Return the facts of stream cut into blocks at fractions of it, the first `reserved`
    read by this process and the rest by a child (which is let finish first).
    """
    size = stream.path.stat().st_size
    cuts = [stream.line_start_after(int(size * f)) for f in fractions]
    bounds = sorted({stream.first_offset, *cuts, size})
    child = finished(tail.start_at(stream, bounds, min(reserved, len(bounds) - 1), fork))
    try:
        return history_facts(stream, child)
    except BaseException:  # as checker.report.check does: a bad line read here, say
        child.cancel()
        raise


def finished(child):
    """Wait until the child has read every block it could take (the parent held the rest)."""
    child.process.wait()
    return child


def line_start(stream, lineno: int) -> int:
    """Return the byte offset at which line lineno + 1 of the stream's file starts."""
    return sum(map(len, stream.path.read_bytes().splitlines(keepends=True)[:lineno]))


def assert_same_facts(split, whole) -> None:
    """Say that two readings of one history gave the same columns and facts."""
    for name in ARRAYS:
        assert np.array_equal(getattr(split.writes, name), getattr(whole.writes, name)), name
    assert split.writes.sku_names == whole.writes.sku_names
    assert indexed_facts(split) == indexed_facts(whole)


def indexed_facts(facts) -> dict:
    """Return per token what a HistoryFacts says of it, with the collisions and counts."""
    table = facts.writes.tokens
    tokens = {
        token: (int(facts.created[facts.code(token)]), int(facts.cancelled[facts.code(token)]),
                facts.acked_id(token), facts.cancelled_id(token), facts.sent(token))
        for token in table.names(range(len(table)))
    }  # fmt: skip
    return {"tokens": tokens, "collisions": facts.collisions, "counts": facts.counts}


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(RECORDS, min_size=1, max_size=40),
    st.lists(st.floats(0, 1), max_size=6),
    st.integers(0, 7),
    st.booleans(),
)
def test_two_processes_read_any_history_as_one_does(tmp_path, records, fractions, reserved, fork):
    stream = write_history(tmp_path / "h.jsonl", records)
    with stream:
        split = split_facts(stream, fractions, reserved, fork)
        assert_same_facts(split, history_facts(stream))
    assert {t: f[:2] for t, f in indexed_facts(split)["tokens"].items()} == {
        t: (f["created"], f["cancelled"]) for t, f in indexed(parsed(records))["tokens"].items()
    }


def test_a_sku_first_named_in_the_tail_keeps_its_order(tmp_path):
    records = [create(f"a{n}", sku="sku-1", order_id=n) for n in range(50)]
    records += [create(f"b{n}", sku=f"sku-{2 + n % 3}", order_id=100 + n) for n in range(50)]
    with write_history(tmp_path / "h.jsonl", records) as stream:
        bounds = [stream.first_offset, line_start(stream, 51), stream.path.stat().st_size]
        split = history_facts(stream, finished(tail.start_at(stream, bounds, reserved=1)))
        assert split.writes.sku_names == ["sku-1", "sku-2", "sku-3", "sku-4"]
        assert_same_facts(split, history_facts(stream))


def test_tokens_with_newlines_and_cancels_by_id_cross_over_whole(tmp_path):
    records = [create(f"line\n{n}", order_id=n) for n in range(40)]
    records += [{**cancel(None, n), "token": None} for n in range(0, 40, 3)]
    with write_history(tmp_path / "h.jsonl", records) as stream:
        split = split_facts(stream, [0.2, 0.5, 0.7])
        assert split.tokens_at(split.cancelled == 2)[:2] == ["line\n0", "line\n3"]
        assert_same_facts(split, history_facts(stream))


def test_a_bad_line_in_the_tail_is_named_by_its_line_number(tmp_path):
    path = tmp_path / "h.jsonl"
    lines = history_lines(ITEMS, [create(f"t{n}", order_id=n) for n in range(60)])
    lines.insert(50, '{"op": "create", "type": "ok"}')  # line 51: no t0
    path.write_text("".join(line + "\n" for line in lines))
    with HistoryStream(path) as stream, pytest.raises(HistoryError, match="line 51:"):
        split_facts(stream, [0.3, 0.6])
    with HistoryStream(path, lenient=True) as stream:
        split = split_facts(stream, [0.3, 0.6])
        assert stream.skipped == 1
        assert_same_facts(split, history_facts(stream))
        assert stream.skipped == 1


def test_a_child_that_dies_costs_time_not_the_answer(tmp_path):
    records = [create(f"t{n}", order_id=n) for n in range(80)]
    with write_history(tmp_path / "h.jsonl", records) as stream:
        size = stream.path.stat().st_size
        bounds = [stream.first_offset, stream.line_start_after(size // 2), size]
        child = tail.start_at(stream, bounds, reserved=1)
        child.process.kill()
        assert_same_facts(history_facts(stream, child), history_facts(stream))


def test_a_check_split_in_two_reports_what_one_process_reports(tmp_path):
    records = [create(f"t{n}", order_id=n, t0=n / 100, t1=n / 100 + 0.05) for n in range(300)]
    records += [create("t-unstored", order_id=999)]
    store = tmp_path / "store.json"
    write_json_store(store, ITEMS, [order(n, f"t{n}") for n in range(1, 300)])
    with write_history(tmp_path / "h.jsonl", records) as stream:
        split = check(store, stream, tail_from=0, engine="numpy")
    with HistoryStream(stream.path) as stream:
        whole = check(store, stream, tail_from=1 << 60, engine="numpy")
    assert split["anomalies"]["lost"] == 2  # t0 and t-unstored
    assert json.dumps(split, sort_keys=True) == json.dumps(whole, sort_keys=True)


# Damage to a SQLite store: a bad page count (the check fails and the rows still read),
# a header that is not SQLite's, the last page zeroed (the check itself cannot run).
DAMAGE = {
    "none": (0, b""),
    "freelist": (32, b"\x00\x00\x00\x05\x00\x00\x00\x09"),
    "header": (16, b"\xff" * 8),
    "last page": (-4096, b"\x00" * 1096),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_sqlites_integrity_checked_when_the_readers_meet_is_what_it_is_inline(tmp_path, damage):
    records = [create(f"t{n}", order_id=n, t0=n / 100, t1=n / 100 + 0.05) for n in range(300)]
    orders = [{**order(n, f"t{n}"), "created_at": "2026-01-01T00:00:00Z"} for n in range(1, 300)]
    store = write_sqlite_store(tmp_path / "store.db", ITEMS, orders)
    at, junk = DAMAGE[damage]
    raw = bytearray(store.read_bytes())
    raw[at : at + len(junk)] = junk
    store.write_bytes(bytes(raw))
    with write_history(tmp_path / "h.jsonl", records) as stream:
        split = check(store, stream, tail_from=0, engine="numpy")
    with HistoryStream(stream.path) as stream:
        whole = check(store, stream, tail_from=1 << 60, engine="numpy")
    assert json.dumps(split, sort_keys=True) == json.dumps(whole, sort_keys=True)
    assert split["anomalies"]["corrupt_store"] == (damage != "none")
    assert split["anomalies"]["lost"] == (300 if damage in ("header", "last page") else 1)


def test_the_child_hands_over_the_tail_it_read(tmp_path):
    records = [create(f"t{n}", order_id=n, sku=f"sku-{n % 4}") for n in range(100)]
    with write_history(tmp_path / "h.jsonl", records) as stream:
        begin = line_start(stream, 61)  # after the run record and 60 creates
        bounds = [stream.first_offset, begin, stream.path.stat().st_size]
        child = finished(tail.start_at(stream, bounds, reserved=1))
        assert list(child.ends()) == [begin]  # the child took the other block
        part = child.result()
    assert part["count"] == 40 and part["tokens"] == [f"t{n}" for n in range(60, 100)]
    assert part["skus"] == ["sku-0", "sku-1", "sku-2", "sku-3"]
    assert locators(part)[0] == begin


def test_blocks_of_tokens_hand_over_whole_whatever_they_hold():
    blocks = [tail._joined(["a", "b"]), tail._joined(["c\nd", "e"]), tail._joined([None, "f"])]
    assert blocks[0] == "a\nb" and isinstance(blocks[1], list) and isinstance(blocks[2], list)
    handed = tail._handed_over(blocks)
    assert tail._split(handed, 6) == ["a", "b", "c\nd", "e", None, "f"]
    assert tail._split(tail._handed_over([blocks[0], "g"]), 3) == ["a", "b", "g"]


def test_a_checker_that_cannot_start_a_child_reads_the_history_itself(tmp_path, monkeypatch):
    records = [create(f"t{n}", order_id=n) for n in range(50)]
    store = write_json_store(tmp_path / "store.json", ITEMS, [order(n, f"t{n}") for n in range(49)])
    with write_history(tmp_path / "h.jsonl", records) as stream:
        whole = check(store, stream, tail_from=1 << 60, engine="numpy")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))  # embedded Python
    with HistoryStream(stream.path) as stream, another_thread():  # so no fork either
        assert tail.start(stream, min_bytes=0) is None
        assert check(store, stream, tail_from=0, engine="numpy") == whole


@contextlib.contextmanager
def another_thread():
    """Run a second thread meanwhile: a process with one must not fork a child."""
    done = threading.Event()
    thread = threading.Thread(target=done.wait)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


FORK_OR_NOT = """
import sys, threading
from pathlib import Path
from checker import tail
from history import HistoryStream
with HistoryStream(Path(sys.argv[1])) as stream:
    bounds = [stream.first_offset, stream.path.stat().st_size]
    children = [tail.start_at(stream, bounds)]
    done = threading.Event()
    threading.Thread(target=done.wait).start()  # a thread that could be holding a lock
    children.append(tail.start_at(stream, bounds))
    done.set()
    for child in children:
        child.process.wait()
        part = child.result()
        at = [int(n) for block in part["blocks"] for n in block["locator"]]
        print(type(child.process).__name__, at)
"""


def test_a_child_is_forked_only_where_no_other_thread_could_hold_a_lock(tmp_path):
    # In a fresh interpreter: a test process may hold threads that other tests left behind.
    with write_history(tmp_path / "h.jsonl", [create("a", order_id=1)]) as stream:
        first = stream.first_offset
    ran = subprocess.run(
        [sys.executable, "-c", FORK_OR_NOT, str(stream.path)],
        capture_output=True, text=True, timeout=120, env=tail._child_env(), check=True,
    )  # fmt: skip
    assert ran.stdout.splitlines() == [f"Forked [{first}]", f"Popen [{first}]"]


def test_a_child_that_read_every_block_first_leaves_the_parent_none(tmp_path):
    records = [create(f"t{n}", order_id=n, sku=f"sku-{n % 3}") for n in range(200)]
    with write_history(tmp_path / "h.jsonl", records) as stream:
        child = finished(tail.start_at(stream, tail_bounds(stream, 6)))
        split = history_facts(stream, child)
        assert child.taken == 0  # the parent came late: the child had read all six blocks
        assert_same_facts(split, history_facts(stream))


def test_a_parent_that_reads_every_block_first_asks_the_child_nothing(tmp_path):
    records = [create(f"t{n}", order_id=n, sku=f"sku-{n % 3}") for n in range(200)]
    with write_history(tmp_path / "h.jsonl", records) as stream:
        bounds = tail_bounds(stream, 6)
        child = tail.start_at(stream, bounds, reserved=len(bounds) - 1)
        split = history_facts(stream, child)
        assert child.taken == 6 and child.process.returncode is not None
        assert_same_facts(split, history_facts(stream))


def test_each_block_is_read_once_wherever_the_two_meet(tmp_path):
    records = [create(f"t{n}", order_id=n) for n in range(2000)]
    with write_history(tmp_path / "h.jsonl", records) as stream:
        bounds = tail_bounds(stream, 40)
        child = tail.start_at(stream, bounds)
        ends = child.ends()
        parents = [next(ends)]
        wait_for(lambda: counters(child)[1] < len(bounds) - 2)  # the child has one too
        parents += list(ends)
        part = child.result()
    assert parents == bounds[1 : len(parents) + 1]  # from the start, in order
    assert 1 <= len(parents) < len(bounds) - 1
    assert part["start"] == bounds[len(parents)]  # the child's first where the parent's end
    head = [line_start_of(stream, n) for n in range(len(records))]
    assert sum(offset < part["start"] for offset in head) + part["count"] == len(records)
    assert locators(part) == head[len(records) - part["count"] :]


def locators(part: dict) -> list:
    """Return where each write the child handed over starts, in order."""
    return [int(at) for block in part["blocks"] for at in block["locator"]]


def counters(child) -> tuple:
    """Return the next block from the start and the next from the end, as the file says."""
    with open(child.claims.path, "rb") as file:
        return claims._COUNTERS.unpack(file.read(claims._COUNTERS.size))


def wait_for(condition, timeout: float = 60.0) -> None:
    """Wait until condition() holds (a child starting on a loaded machine takes a while)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the child never took a block"
        time.sleep(0.01)


def tail_bounds(stream, blocks: int) -> list:
    """Return the line starts that cut the stream's records into about `blocks` blocks."""
    size = stream.path.stat().st_size
    step = (size - stream.first_offset) / blocks
    cuts = [stream.line_start_after(int(stream.first_offset + k * step)) for k in range(blocks)]
    return sorted({*cuts, size})


def line_start_of(stream, n: int) -> int:
    """Return where the nth operation record starts."""
    return line_start(stream, n + 1)


def test_the_tail_crosses_a_pipe_of_a_mebibyte_not_64_kib(tmp_path):
    import fcntl  # noqa: PLC0415 - Linux's: this machine's pipe is what is measured

    with write_history(tmp_path / "h.jsonl", [create("a", order_id=1)]) as stream:
        child = tail.start_at(stream, [stream.first_offset, stream.path.stat().st_size])
        try:
            width = fcntl.fcntl(child.process.stdout.fileno(), fcntl.F_GETPIPE_SZ)
        finally:
            child.cancel()
    assert width == tail.PIPE_BYTES

"""A history checked a partition of tokens at a time (checker/partitioned.py) gives the
in-memory check's report, byte for byte.

Random order histories, full and minimal, with random stores of both formats and every
order anomaly planted (lost, duplicated, id collisions stored and acked, unexpected,
resurrected, mismatched, ill-typed orders, stock), read in blocks, pages and merge steps
small enough that every boundary is crossed; and the contention measure over sorted runs
against checker/contention.py's on random spans.
"""

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from array import array

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from checker import engine, json_stream, partitioned, partitions, sweep
from checker.contention import NOT_SENT, contention
from checker.report import check
from history import HistoryStream
from tests.builders import history_lines, write_store
from tests.test_engine import ITEMS, minimal, orders_of, record, stored

TOKENS = ["t1", "t2", "t3", "t4", "t5", "t6", "5", "é", "ttt", "t10", "t11", "t12"]
FIXTURE = HealthCheck.function_scoped_fixture

write = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["create", "create", "create", "cancel", "get"]),
        "token": st.sampled_from(TOKENS),
        "type": st.sampled_from(["ok", "ok", "fail", "info"]),
        "order_id": st.one_of(st.none(), st.integers(1, 8)),
        "sku": st.sampled_from(["sku-1", "sku-2", "", None]),
        "qty": st.one_of(st.none(), st.integers(1, 3)),
        "t0": st.floats(0, 2, allow_nan=False),
        "span": st.sampled_from([0.0, 0.1, 0.3]) | st.floats(-0.1, 0.5, allow_nan=False),
    }
)
ILL_TYPED = [
    {"id": 40, "sku": "sku-1", "qty": "2", "token": "t3", "created_at": "x"},
    {"id": 41, "sku": 7, "qty": 1, "token": "t4", "created_at": "x"},
    {"id": 42, "sku": "sku-2", "qty": 1, "token": None, "created_at": "x"},
]


def report_bytes(store, path, parts: int) -> bytes:
    """Return the report of store against the history at path, checked in parts."""
    with HistoryStream(path) as stream:
        return msgspec.json.encode(check(store, stream, examples=4, partitions=parts))


@settings(max_examples=50, deadline=None, suppress_health_check=[FIXTURE])
@given(
    writes=st.lists(write, min_size=1, max_size=40),
    rows=stored,
    kind=st.sampled_from(["json", "sqlite"]),
    form=st.sampled_from(["full", "minimal"]),
    parts=st.integers(2, 6),
    ill=st.lists(st.sampled_from(ILL_TYPED), max_size=2, unique_by=lambda o: o["id"]),
    stock=st.fixed_dictionaries({"sku-1": st.integers(-2, 50), "sku-2": st.integers(0, 50)}),
)
def test_a_history_checked_in_partitions_gives_the_same_report(
    tmp_path_factory, monkeypatch, writes, rows, kind, form, parts, ill, stock
):
    tmp_path = tmp_path_factory.mktemp("parts")
    records = [record(w) for w in writes]
    lines = history_lines(ITEMS, [minimal(r) for r in records] if form == "minimal" else records)
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = write_store(kind, tmp_path, stock, orders_of(rows))
    if ill:
        plant(store, kind, ill)
    whole = report_bytes(store, path, 1)
    # Blocks, pages and merge steps of a few records, so every boundary is crossed.
    monkeypatch.setattr(engine, "BLOCK", 256)
    monkeypatch.setattr(json_stream, "BLOCK", 64)
    monkeypatch.setattr(partitions, "STORE_PAGE", 3)
    monkeypatch.setattr(partitions, "FLUSH_ROWS", 5)
    monkeypatch.setattr(sweep, "STEP", 4)
    monkeypatch.setattr(sweep.OnDisk, "WINDOW", 2)
    taken = []
    real = partitioned.check_partitioned
    monkeypatch.setattr(partitioned, "check_partitioned", lambda *a: taken.append(1) or real(*a))
    found = report_bytes(store, path, parts)
    assert found == whole, differences(json.loads(found), json.loads(whole))
    assert taken
    event(
        "anomalies: " + ", ".join(sorted(k for k, v in json.loads(whole)["anomalies"].items() if v))
    )


def differences(found: dict, expected: dict) -> dict:
    """Return the report's fields that differ: (partitioned, in memory)."""
    return {k: (found.get(k), v) for k, v in expected.items() if found.get(k) != v}


def plant(store, kind: str, orders: list) -> None:
    """Add ill-typed orders to a store."""
    if kind == "json":
        document = json.loads(store.read_text())
        document["orders"] += orders
        store.write_text(json.dumps(document))
        return
    with sqlite3.connect(store) as db:
        db.executemany(
            "INSERT INTO orders (id, sku, qty, token, created_at) VALUES (?, ?, ?, ?, ?)",
            [tuple(o.values()) for o in orders],
        )


def test_a_history_past_the_order_workload_is_checked_in_memory(tmp_path):
    lines = history_lines(
        ITEMS,
        [
            record(
                {
                    "op": "create",
                    "token": "t1",
                    "type": "ok",
                    "order_id": 1,
                    "sku": "sku-1",
                    "qty": 1,
                    "t0": 0.0,
                    "span": 0.1,
                }
            ),
            record(
                {
                    "op": "leave",
                    "token": "t2",
                    "type": "ok",
                    "order_id": None,
                    "sku": None,
                    "qty": None,
                    "t0": 0.0,
                    "span": 0.1,
                }
            ),
        ],
    )
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n")
    store = write_store(
        "json", tmp_path, {"sku-1": 49, "sku-2": 50}, orders_of([(1, "t1", "sku-1", 1)])
    )
    with HistoryStream(path) as stream:
        assert partitioned.check_partitioned(store, stream, 3, 3) is None
    assert report_bytes(store, path, 3) == report_bytes(store, path, 1)


spans = st.lists(
    st.tuples(
        st.floats(0, 3, allow_nan=False),
        st.sampled_from([0.0, 0.2]) | st.floats(-0.1, 1),
        st.sampled_from([NOT_SENT, 0, 1, 2, 3, 4]),
    ),
    max_size=60,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[FIXTURE])
@given(spans=spans, runs=st.integers(1, 5), step=st.integers(1, 9))
def test_the_measure_over_sorted_runs_is_the_contention_measure(
    tmp_path_factory, monkeypatch, spans, runs, step
):
    t0 = np.array([s[0] for s in spans], np.float64)
    t1 = t0 + np.array([s[1] for s in spans], np.float64)
    group = np.array([s[2] for s in spans], np.int32)
    expected = contention(array("d", t0), array("d", t1), array("i", group))
    monkeypatch.setattr(sweep, "STEP", step)
    monkeypatch.setattr(sweep.OnDisk, "WINDOW", 2)
    saved = sweep.Runs(tmp_path_factory.mktemp("runs"))
    number = np.arange(t0.size) % runs
    for k in range(runs):
        mine = number == k
        sweep.save_spans(
            saved,
            k,
            {
                "t0": t0[mine],
                "t1": t1[mine],
                "group": group[mine],
                "index": np.flatnonzero(mine),
                "locator": np.flatnonzero(mine),
            },
        )
    sent = int((group != NOT_SENT).sum())
    assert sweep.measure(saved, sent, alone=False) == expected


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_a_large_history_is_partitioned_by_its_size(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(partitions, "PARTITIONED_FROM", 1)
    monkeypatch.setattr(partitions, "BYTES_A_PARTITION", 100)
    records = [
        record(
            {
                "op": "create",
                "token": f"t{n}",
                "type": "ok",
                "order_id": n,
                "sku": "sku-1",
                "qty": 1,
                "t0": n / 10,
                "span": 0.3,
            }
        )
        for n in range(30)
    ]
    lines = history_lines(ITEMS, records)
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert partitions.partition_count(path) == -(-path.stat().st_size // 100)
    store = write_store(
        kind,
        tmp_path,
        {"sku-1": 30, "sku-2": 50},
        orders_of([(n, f"t{n}", "sku-1", 1) for n in range(1, 30)]),
    )
    taken = []
    real = partitioned.check_partitioned
    monkeypatch.setattr(
        partitioned, "check_partitioned", lambda *a: taken.append(a[-1]) or real(*a)
    )
    with HistoryStream(path) as stream:
        report = check(store, stream)
    assert taken == [partitions.partition_count(path)]
    assert report.anomalies["lost"] == 1  # t0's create was acked, and it is not stored
    assert report.examples["lost"][0].tokens == ["t0"]


def test_racelab_check_partitions_as_told_and_leaves_nothing_behind(tmp_path):
    records = [
        record(
            {
                "op": "create",
                "token": f"t{n}",
                "type": "ok",
                "order_id": n % 7,
                "sku": "sku-2",
                "qty": 1,
                "t0": n / 10,
                "span": 0.5,
            }
        )
        for n in range(40)
    ]
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(history_lines(ITEMS, records)) + "\n")
    store = write_store(
        "sqlite",
        tmp_path,
        {"sku-1": 50, "sku-2": 10},
        orders_of([(n, f"t{n}", "sku-2", 1) for n in range(0, 40, 2)]),
    )
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}

    def run(*args):
        command = [sys.executable, "-m", "racelab", "check", str(store), "--history", str(path)]
        return subprocess.run([*command, *args], capture_output=True, text=True, env=env)

    whole, parted = run("--json", "--partitions", "1"), run("--json", "--partitions", "5")
    assert parted.stdout == whole.stdout and parted.returncode == whole.returncode == 1
    assert json.loads(parted.stdout)["anomalies"]["lost"] == 20
    assert list((tmp_path / "tmp").iterdir()) == []
    refused = run("--partitions", "0")
    assert refused.returncode == 2
    assert "'--partitions': 0 is not in the range" in refused.stderr


def one_create(tmp_path):
    """Return a history file of one acked create of t1."""
    records = [record({"op": "create", "token": "t1", "type": "ok", "order_id": 1,
                       "sku": "sku-1", "qty": 1, "t0": 0.1, "span": 0.3})]  # fmt: skip
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(history_lines(ITEMS, records)) + "\n")
    return path


def test_a_sku_that_is_not_utf8_is_checked_in_memory(tmp_path):
    """A lone surrogate, read by the careful JSON reader, cannot be a polars string."""
    path, store = one_create(tmp_path), tmp_path / "store.json"
    orders = orders_of([(1, "t1", "sku-1", 1), (2, "t2", "SKU", 1)])
    store.write_text(json.dumps({"version": 1, "items": ITEMS, "orders": orders, "next_id": 3})
                     .replace('"SKU"', '"\\ud800"'))  # fmt: skip
    assert json.loads(report_bytes(store, path, 3))["anomalies"]["unexpected"] == 1
    assert report_bytes(store, path, 3) == report_bytes(store, path, 1)


def test_a_column_named_rowid_does_not_order_the_pages(tmp_path, monkeypatch):
    """Paged by such a column, orders would come back reordered, or not at all (NULL)."""
    path, store = one_create(tmp_path), tmp_path / "store.db"
    with sqlite3.connect(store) as db:
        db.execute("CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER)")
        db.execute("CREATE TABLE orders (id INTEGER, sku TEXT, qty INTEGER, token TEXT, "
                   "created_at TEXT, rowid INTEGER)")  # fmt: skip
        db.executemany("INSERT INTO items VALUES (?, ?)", list(ITEMS.items()))
        db.executemany("INSERT INTO orders VALUES (?, 'sku-1', 1, ?, 'x', ?)",
                       [(n, f"u{n}", r) for n, r in enumerate([5, None, 3, 2, 1])])  # fmt: skip
    monkeypatch.setattr(partitions, "STORE_PAGE", 2)
    assert json.loads(report_bytes(store, path, 3))["store"]["orders"] == 5
    assert report_bytes(store, path, 3) == report_bytes(store, path, 1)


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_stock_sums_past_int64_are_exact(tmp_path, kind):
    """-2**63 fooled the guard (np.abs leaves it negative), and numpy's sum wrapped."""
    path = one_create(tmp_path)
    rows = [(1, "t1", "sku-2", -(2**63)), (2, "t2", "sku-2", -1), (3, "t3", "sku-1", 1)]
    store = write_store(kind, tmp_path, ITEMS, orders_of(rows))
    found = json.loads(report_bytes(store, path, 1))
    sold = 2**63 + 1
    assert f"sku-2: 50 at the start - {-sold} in stored orders" in str(found["examples"])
    assert report_bytes(store, path, 3) == report_bytes(store, path, 1)


def test_a_disk_with_no_room_for_the_partitions_is_checked_in_memory(tmp_path):
    """Files past 16 KB refused (RLIMIT_FSIZE): the partitions cannot be written."""
    records = [record({"op": "create", "token": f"t{n}", "type": "ok", "order_id": n,
                       "sku": "sku-1", "qty": 1, "t0": n / 100, "span": 0.3})
               for n in range(3000)]  # fmt: skip
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(history_lines(ITEMS, records)) + "\n")
    store = write_store("json", tmp_path, ITEMS, orders_of([(1, "t1", "sku-1", 1)]))
    command = [sys.executable, "-m", "racelab", "check", str(store), "--history", str(path),
               "--json", "--partitions"]  # fmt: skip

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 14, 1 << 14))

    parted = subprocess.run([*command, "3"], capture_output=True, text=True, preexec_fn=small_files)
    whole = subprocess.run([*command, "1"], capture_output=True, text=True)
    assert "Traceback" not in parted.stderr
    assert parted.stdout == whole.stdout and json.loads(whole.stdout)["anomalies"]["lost"] == 2999

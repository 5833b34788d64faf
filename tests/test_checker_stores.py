"""Any bytes as a store give a report, never a traceback; damage is read as far as it goes."""

import json
import sqlite3
from collections import Counter
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker import check
from checker.stores import read_store
from tests.builders import create, history, order, write_json_store

ITEMS = {"sku-1": 10}


def two_orders_doc() -> bytes:
    doc = {
        "version": 2,
        "items": {"sku-1": 8},
        "orders": [order(1, "a"), order(2, "b")],
        "next_id": 3,
    }
    return json.dumps(doc).encode()


def test_extra_data_is_read_up_to_the_garbage(tmp_path):
    # A shorter document written over a longer one: the longer one's tail is left behind.
    longer = json.dumps(
        {
            "version": 3,
            "items": {"sku-1": 7},
            "orders": [order(1, "a"), order(2, "b"), order(3, "c")],
            "next_id": 4,
        }
    )
    shorter = two_orders_doc().decode()
    path = tmp_path / "store.json"
    path.write_text(shorter + longer[len(shorter) :])
    records = [create(t, order_id=n) for n, t in enumerate("abc", 1)]
    report = check(path, history(ITEMS, records))
    assert report.anomalies["corrupt_store"] == 1
    assert report.anomalies["lost"] == 1  # c was acknowledged; the surviving document lacks it
    assert report.store.orders == 2 and report.store.readable is True
    assert "garbage" in report.store.error


def test_a_truncated_file_still_yields_its_whole_orders(tmp_path):
    raw = two_orders_doc()
    path = tmp_path / "store.json"
    path.write_bytes(raw[: raw.index(b'{"id": 2') + 20])
    snapshot = read_store(path)
    assert [o[3] for o in snapshot.orders] == ["a"]
    assert snapshot.items is None and snapshot.corruption.startswith("not valid JSON")
    report = check(path, history(ITEMS, [create("a", order_id=1)]))
    assert "stock_mismatch" in report.skipped and report.verdict == "failed"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty", b"", "the file is empty"),
        ("binary", bytes(range(256)), "not UTF-8"),
        ("array", b"[1, 2]", "the document is a list"),
        ("wrong shape", b'{"orders": 3}', "not the documented shape"),
        ("half-written temp file", b'{"version": 4, "items": {"sku-1": 1', "not valid JSON"),
        ("deep nesting", b"[" * 100_000, "nested too deeply"),
    ],
)
def test_damaged_json_is_reported_not_raised(tmp_path, name, content, reason):
    path = tmp_path / "store.json"
    path.write_bytes(content)
    report = check(path, history(ITEMS, []))
    assert report.verdict == "failed" and report.anomalies["corrupt_store"] == 1
    assert reason in report.store.error


def test_sqlite_without_tables_is_corrupt(tmp_path):
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE other (x)")
    report = check(path)
    assert report.store.backend == "sqlite" and report.anomalies["corrupt_store"] == 1
    assert "no such table" in report.store.error


def test_format_is_detected_from_bytes_not_the_name(tmp_path):
    path = write_json_store(tmp_path / "store.db", ITEMS, [])
    assert read_store(path).backend == "json"


def test_a_damaged_sqlite_file_is_reported(tmp_path):
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER)")
        db.executemany("INSERT INTO items VALUES (?, ?)", [(f"s{n}", n) for n in range(3000)])
    raw = bytearray(path.read_bytes())
    raw[4096:8192] = b"\xde\xad" * 2048
    path.write_bytes(bytes(raw))
    report = check(path)
    assert report.anomalies["corrupt_store"] == 1 and report.verdict == "failed"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_report(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("fuzz") / "store.json"
    path.write_bytes(content)
    report = check(path, history(ITEMS, []))
    assert report.verdict in ("held", "failed", "unknown")
    assert report.errors == {}


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_stores_give_a_report(tmp_path_factory, data):
    raw = bytearray(two_orders_doc())
    for _ in range(data.draw(st.integers(1, 5))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("mutant") / "store.json"
    path.write_bytes(bytes(raw))
    report = check(path, history(ITEMS, [create("a", order_id=1), create("b", order_id=2)]))
    assert report.errors == {}


SCALARS = st.one_of(
    st.integers(-(2**70), 2**70), st.booleans(), st.none(), st.floats(allow_nan=False),
    st.text(max_size=6),
)  # fmt: skip
WELL_FORMED = {
    "id": st.integers(0, 10**6), "sku": st.sampled_from(["sku-1", "sku-2"]),
    "qty": st.integers(1, 100), "token": st.text(max_size=8),
    "created_at": st.one_of(  # the fast reading takes RFC 3339; any string is well-formed
        st.just("2026-01-01T00:00:00.000Z"), st.datetimes().map(datetime.isoformat),
        st.text(max_size=30)),
}  # fmt: skip
WHOLE = st.fixed_dictionaries(WELL_FORMED, optional={"extra": SCALARS})
BROKEN = st.fixed_dictionaries(
    {}, optional={k: st.one_of(v, SCALARS) for k, v in WELL_FORMED.items()}
)  # a field missing or ill-typed, or a whole order by chance
STOCKS = st.dictionaries(st.sampled_from(["sku-1", "sku-2"]), st.integers())
ONE_BAD_FIELD = st.tuples(WHOLE, st.sampled_from(sorted(WELL_FORMED)), SCALARS).map(
    lambda t: {**t[0], t[1]: t[2]}
)  # a whole order but for one field
DOCUMENTS = st.one_of(
    st.fixed_dictionaries(  # the documented shape: the fast reading takes these
        {"version": st.integers(0, 9), "items": STOCKS, "orders": st.lists(WHOLE, max_size=6),
         "next_id": st.integers(0, 9)}),
    st.fixed_dictionaries(  # the documented shape but for one order's field
        {"version": st.integers(0, 9), "items": STOCKS, "next_id": st.integers(0, 9),
         "orders": st.tuples(st.lists(WHOLE, max_size=3), ONE_BAD_FIELD).map(
             lambda t: [*t[0], t[1]])}),
    st.fixed_dictionaries(  # anything near it: the careful reading takes over
        {"version": st.one_of(st.integers(0, 9), SCALARS), "items": st.one_of(STOCKS, SCALARS),
         "orders": st.lists(st.one_of(WHOLE, BROKEN), max_size=6), "next_id": st.integers(0, 9)},
        optional={"extra": SCALARS}),
)  # fmt: skip


@given(DOCUMENTS, st.booleans())
def test_the_fast_reading_of_a_json_store_agrees_with_the_careful_one(doc, pretty):
    from checker.stores import read_json, read_json_carefully

    raw = json.dumps(doc, indent=2 if pretty else None).encode()
    fast, careful = read_json("store.json", raw), read_json_carefully("store.json", raw)
    assert fast == careful


def test_a_store_as_the_servers_write_it_is_read_in_one_typed_pass():
    from checker.stores import _well_formed
    from servers.storage import utc_now

    doc = {"version": 1, "items": {"sku-1": 9}, "next_id": 2, "orders": [
        {"id": 1, "sku": "sku-1", "qty": 1, "token": "a", "created_at": utc_now()}
    ]}  # fmt: skip
    assert _well_formed(json.dumps(doc).encode()) is not None


# --- recovering the orders of a damaged document --------------------------------------------

PREFIX = '{"version": 1, "items": {"sku-1": 5}, "orders": ['


def damaged_text(orders: list, ensure_ascii: bool = True) -> tuple[bytes, list]:
    """Return a store.json's bytes and the byte span of each order in it."""
    raw, spans = PREFIX.encode(), []
    for n, value in enumerate(orders):
        text = (", " if n else "") + json.dumps(value, ensure_ascii=ensure_ascii)
        # A lone surrogate cannot be UTF-8: written as the \ud800 escape that JSON reads back.
        piece = text.encode("utf-8", "backslashreplace")
        start = len(raw) + (2 if n else 0)
        raw += piece
        spans.append((start, len(raw)))
    return raw + b'], "next_id": 99}', spans


def test_orders_after_non_ascii_text_are_recovered_and_not_reported_lost(tmp_path):
    orders = [order(n, f"t{n}", sku="caf\u00e9 \u2603") for n in range(1, 6)]
    raw, _ = damaged_text(orders, ensure_ascii=False)
    path = tmp_path / "store.json"
    path.write_bytes(raw[:-5])  # torn in its tail: the careful reading salvages the orders
    assert sorted(o[3] for o in read_store(path).orders) == [f"t{n}" for n in range(1, 6)]
    items = {"caf\u00e9 \u2603": 10}
    records = [create(f"t{n}", order_id=n, sku="caf\u00e9 \u2603") for n in range(1, 6)]
    report = check(path, history(items, records))
    assert report.anomalies["lost"] == 0 and report.store.orders == 5


ORDER_FIELDS = {"id": st.integers(0, 10**6), "sku": st.text(max_size=8),
                "qty": st.integers(1, 100), "token": st.text(max_size=8),
                "created_at": st.text(max_size=4)}  # fmt: skip
# The keys in the order the servers write them: "id" first, which the salvage looks for.
IN_ORDER = st.fixed_dictionaries(ORDER_FIELDS).map(lambda o: {k: o[k] for k in ORDER_FIELDS})
UNICODE_ORDERS = st.lists(IN_ORDER, min_size=1, max_size=8)
GARBAGE = st.binary(max_size=40).map(lambda b: b.replace(b"{", b"("))  # never an order's start


@settings(max_examples=300, deadline=None)
@given(UNICODE_ORDERS, st.booleans(), GARBAGE, st.data())
def test_every_whole_order_left_in_a_damaged_document_is_recovered(orders, ascii_, garbage, data):
    raw, spans = damaged_text(orders, ensure_ascii=ascii_)
    # Bytes [a, b) overwritten by garbage, and the file cut at c: arbitrary byte offsets,
    # so a character's UTF-8 bytes may be split and the reading must still find the rest.
    a = data.draw(st.integers(0, len(raw)))
    b = data.draw(st.integers(a, len(raw)))
    c = data.draw(st.integers(b, len(raw)))
    damaged = raw[:a] + garbage + raw[b:c]
    from checker.stores import read_json

    snapshot = read_json("store.json", damaged)
    got = Counter(snapshot.orders)
    before = [o for o, (s, e) in zip(orders, spans, strict=True) if e <= a]
    after = [o for o, (s, e) in zip(orders, spans, strict=True) if b <= s and e <= c]
    if (snapshot.corruption or "").startswith("a valid document followed"):
        after = []  # what follows a whole document is not read (docs/contract.md)
    want = Counter((o["id"], o["sku"], o["qty"], o["token"]) for o in before + after)
    assert got & want == want, (damaged, snapshot.corruption)


def test_the_salvage_reads_each_part_of_a_document_a_bounded_number_of_times():
    # Every order broken (so every window is tried): the text the salvage decodes grows with
    # the document's length, never with its square (it did, 2 s at 0.8 MB, 11 s at 1.6 MB).
    from checker.stores import REACH, order_windows

    for n in (1_000, 10_000):
        broken = [{**order(i, f"t{i}"), "qty": None} for i in range(n)]
        text = damaged_text(broken)[0].decode()[:-5]
        windows = order_windows(text)
        work = sum(end - start for start, ends in windows for end in ends)
        assert len(windows) == n and work <= REACH * REACH * len(text)


def test_a_big_damaged_document_gives_back_every_whole_order():
    from checker.stores import read_json

    orders = [order(i, f"t{i}", sku="\u00e9t\u00e9-\U0001f600") for i in range(1, 20_001)]
    raw, spans = damaged_text(orders, ensure_ascii=False)
    snapshot = read_json("store.json", b"\x00\x00" + raw[: spans[-1][0] + 10])
    assert sorted(o[0] for o in snapshot.orders) == list(range(1, 20_000))

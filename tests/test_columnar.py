"""The checker's columnar index against plain per-record references, on generated input.

The index (checker/columns.py, facts.py) reduces a history's columns with numpy; here each
of its facts is computed again by the obvious loop, one record at a time, and the two must
agree on any history the careful reader reads: cancels named by id only, integers beyond
int64, empty skus, tokens that repeat. (tests/test_engine.py holds polars' columns to
these.)
"""

import sqlite3

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from checker.columns import DictTokens
from checker.facts import FAIL, NONE, OK, RANK, history_facts
from checker.orders import Orders, Snapshot, interned_lines
from checker.sql_store import WELL_TYPED, read_sqlite_tables, read_tables
from checker.stores import BATCH, _well_formed, read_json, read_json_carefully
from history import op_record, parse_lines
from tests.builders import history_lines, order, write_json_store

TOKENS = st.sampled_from(["a", "b", "c", "ä", "", "d" * 30])
IDS = st.one_of(st.none(), st.integers(0, 2), st.just(2**64))
RECORDS = st.builds(
    lambda op, token, sku, qty, order_id, type_, status, t0, span: op_record(
        op, 0, token, sku, qty, order_id, status, type_, t0, t0 + span
    ),
    st.sampled_from(["create", "cancel", "get"]),
    st.one_of(st.none(), TOKENS),
    st.one_of(st.none(), st.sampled_from(["sku-1", "sku-2", ""])),
    st.one_of(st.none(), st.integers(1, 3), st.integers(2**64, 2**65)),
    IDS,
    st.sampled_from(["ok", "fail", "info"]),
    st.one_of(st.none(), st.just(201)),
    st.floats(0, 10),
    st.floats(0, 1),
).filter(lambda r: r["token"] is not None or r["op"] != "create")


def reference(records) -> dict:
    """Return per token what the history says, by one plain loop over the records."""
    facts, first_token_by_id, collisions = {}, {}, {}
    for r in records:
        token = r["token"]
        if token is None and r["op"] == "cancel":
            token = first_token_by_id.get(r["order_id"])
        if token is None or r["op"] not in ("create", "cancel"):
            continue
        known = facts.setdefault(token, {"created": NONE, "cancelled": NONE, "acked_id": None,
                                         "cancelled_id": None, "sent": (None, None),
                                         "sent_at": None})  # fmt: skip
        rank = RANK[r["type"]]
        if r["op"] == "cancel":
            known["cancelled"] = max(known["cancelled"], rank)
            known["cancelled_id"] = r["order_id"] if rank == OK else known["cancelled_id"]
            continue
        known["created"] = max(known["created"], rank)
        named = r["sku"] is not None and r["qty"] is not None
        if named and (known["sent_at"] is None or r["t0"] < known["sent_at"]):  # sent first
            known["sent"], known["sent_at"] = (r["sku"], r["qty"]), r["t0"]
        if rank == OK and r["order_id"] is not None:
            known["acked_id"] = r["order_id"]
            holder = first_token_by_id.setdefault(r["order_id"], token)
            if holder != token:
                collisions.setdefault(r["order_id"], {holder}).add(token)
    for known in facts.values():
        del known["sent_at"]
    return {"tokens": facts, "collisions": {i: sorted(t) for i, t in collisions.items()}}


def parsed(records):
    """Return the History of the records, leaving out any the format refuses."""
    return parse_lines(history_lines({"sku-1": 5}, records), lenient=True)


def indexed(parsed_history) -> dict:
    """Return the same facts as the columnar index gives them."""
    facts = history_facts(parsed_history)
    table = facts.writes.tokens
    tokens = {}
    for token in table.names(range(len(table))):
        code = facts.code(token)
        tokens[token] = {
            "created": int(facts.created[code]), "cancelled": int(facts.cancelled[code]),
            "acked_id": facts.acked_id(token), "cancelled_id": facts.cancelled_id(token),
            "sent": facts.sent(token),
        }  # fmt: skip
    return {"tokens": tokens, "collisions": facts.collisions}


@given(st.lists(RECORDS, max_size=25))
def test_the_columnar_index_agrees_with_a_plain_loop(records):
    valid = parsed(records)
    expected, found = reference(valid.ops), indexed(valid)
    assert found == expected
    # Tokens in the order of their first write: the order every check lists them in.
    assert list(found["tokens"]) == list(expected["tokens"])


@given(st.lists(RECORDS, max_size=25))
def test_writes_that_never_reached_the_server_are_left_out_of_contention(records):
    facts = history_facts(parsed(records))
    unsent = (facts.writes.rank == FAIL) & facts.writes.unsent
    assert ((facts.sku == -1) == unsent).all()


@given(st.lists(TOKENS, max_size=40), st.lists(TOKENS, max_size=10))
def test_the_careful_token_table_numbers_tokens_by_first_appearance(tokens, asked):
    table = DictTokens(list(tokens))
    assert table.names(range(len(table))) == list(dict.fromkeys(tokens))
    assert [table.name(c) for c in table.codes.tolist()] == tokens
    found = table.lookup(asked).tolist()
    assert [table.name(c) if c != NONE else None for c in found] == [
        t if t in tokens else None for t in asked
    ]


CELLS = st.one_of(
    st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=4),
    st.binary(max_size=3),
)  # fmt: skip


@given(st.lists(st.tuples(CELLS, CELLS, CELLS, CELLS, CELLS), max_size=12))
def test_sqlite_split_by_typeof_agrees_with_the_row_by_row_read(rows):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER)")
    db.execute("CREATE TABLE orders (id, sku, qty, token, created_at)")
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", rows)
    fast, slow = Snapshot("store.db"), Snapshot("store.db")
    read_sqlite_tables(fast, db)
    read_tables(slow, db)
    assert fast == slow


ROWS = st.lists(
    st.tuples(st.integers(), st.text(max_size=3), st.integers(), st.text(max_size=4)), max_size=20
)


@given(ROWS)
def test_orders_held_by_column_read_back_as_the_tuples_they_were(rows):
    # Unbounded integers: an id or qty past int64 is kept exactly, in an object array.
    orders = Orders.from_tuples(rows)
    assert len(orders) == len(rows) and list(orders) == rows and orders == rows
    assert [orders[i] for i in range(len(rows))] == rows
    assert all(type(v) is int for row in orders for v in (row[0], row[2]))


@given(ROWS.map(lambda rows: [r for r in rows if -(2**63) <= r[0] < 2**63 > r[2] >= -(2**63)]))
def test_a_sqlite_store_read_as_joined_columns_is_the_same_orders(rows):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE orders (id, sku, qty, token, created_at)")
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, 'x')", rows)
    db.execute("INSERT INTO orders VALUES (1.5, 'sku', 1, 'ill-typed', 'x')")  # left out
    joined = Orders.joined(db, WELL_TYPED)
    newline = any("\n" in text for row in rows for text in (row[1], row[3]))
    assert (joined is None) == newline  # then the checker reads row by row
    if joined is not None:
        assert joined == rows and joined.ids.dtype == joined.qtys.dtype == np.int64
        assert joined == Orders.fetched(
            db.execute(f"SELECT id, sku, qty, token FROM orders WHERE {WELL_TYPED}")
        )


@given(ROWS.map(lambda rows: [r for r in rows if abs(r[0]) < 2**63 and abs(r[2]) < 2**63]))
def test_a_sqlite_store_fetched_a_few_rows_at_a_time_is_the_same_orders(rows):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE orders (id, sku, qty, token)")
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", rows)
    fetched = Orders.fetched(db.execute("SELECT id, sku, qty, token FROM orders"), chunk=3)
    assert fetched == rows and fetched.ids.dtype == np.int64


@given(st.lists(st.text(alphabet="ab\n", max_size=4), max_size=12), st.integers(0, 6))
def test_skus_split_a_chunk_at_a_time_are_the_whole_split(parts, chunk):
    joined = "\n".join(parts)
    assert interned_lines(joined, chunk) == joined.split("\n")


def test_a_json_store_decoded_a_batch_at_a_time_is_the_careful_readers(tmp_path):
    # More orders than one batch, and ids past int64 in the last: every batch is joined.
    orders = [order(n, f"t{n}", sku=f"sku-{n % 3}", qty=1 + n % 2) for n in range(BATCH + 3)]
    orders[-1]["id"] = 2**64
    path = write_json_store(tmp_path / "store.json", {"sku-0": 1}, orders)
    raw = path.read_bytes()
    assert _well_formed(raw) is not None  # the typed pass, not the careful one
    fast, careful = read_json(path), read_json_carefully(path, raw)
    assert fast.orders == careful.orders and len(fast.orders) == BATCH + 3
    last = BATCH + 2
    assert fast.orders[-1] == (2**64, f"sku-{last % 3}", 1 + last % 2, f"t{last}")

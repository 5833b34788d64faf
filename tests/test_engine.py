"""The checker's engine (checker/engine.py) against a plain reference, on generated input.

Random histories, full and minimal, streamed from a file and held in memory, with random
stores of both formats, anomalies planted in them, and odd lines (bad JSON, a wrong type,
a lone surrogate, a huge int, a missing field). The reference reads the history with the
careful reader (history/read.py) and counts each order anomaly by a plain loop over its
records and the stored orders, one at a time; the engine's report must agree with it, and
the facts polars reduces must be the ones the careful reader's columns give.
"""

import json
import subprocess
import sys
from collections import Counter

import msgspec
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from msgspec.structs import asdict as as_dict

from checker import engine, json_stream
from checker.columns import FAIL, INFO, NONE, OK
from checker.facts import facts_from, history_facts
from checker.report import check
from checker.stores import read_json_carefully, read_store
from checker.tokens import Tokens
from history import HistoryError, HistoryStream, op_record, parse_lines
from tests.builders import history_lines, write_store
from tests.test_columnar import reference

ITEMS = {"sku-1": 50, "sku-2": 50}
TOKENS = ["t1", "t2", "t3", "t4", "t5", "t6", "5", "é", "ttt"]
FIXTURE = HealthCheck.function_scoped_fixture

write = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["create", "create", "create", "cancel", "get", "leave"]),
        "token": st.sampled_from([*TOKENS * 4, None]),  # None: a cancel by id, or invalid
        "type": st.sampled_from(["ok", "ok", "fail", "info"]),
        "order_id": st.one_of(st.none(), st.integers(1, 8)),
        "sku": st.sampled_from(["sku-1", "sku-2", "", None]),
        "qty": st.one_of(st.none(), st.integers(1, 3)),
        "t0": st.floats(0, 2, allow_nan=False),
        "span": st.floats(0, 0.5, allow_nan=False),
    }
)
HEAD = '{"op": "create", "type": "ok", "t0": 0.1, "t1": 0.2, '
ODD = [
    "{not json",
    "",
    "   ",
    HEAD + '"token": "t1", "qty": true}',
    HEAD + '"token": 5}',
    HEAD + '"token": "t\\ud800"}',
    HEAD + '"token": "t1", "qty": 1180591620717411303424}',
    '{"op": "create", "type": "ok", "t1": 0.2, "token": "t1"}',
    HEAD + '"token": "t2", "attempt": null}',
    HEAD + '"token": "t2", "attempt": 1.0}',
    '{"op": "create", "type": "ok", "t0": 0.1, "t1": 1e400, "token": "t2"}',
    HEAD + '"token": "t3", "extra": [1, {"a": null}]}',
    '{"op": "cancel", "type": "ok", "t0": 0.1, "t1": 0.2, "order_id": 3}',
    '{"op": "create", "type": "ok", "t0": 1, "t1": 2, "token": "t\\u00e9\\n", "qty": 2}',
    HEAD + '"token": "{x", "error": false}',
    '{"op": "shout", "type": "ok", "t0": 0.1, "t1": 0.2}',
    "[1, 2]",
    HEAD + '"token": "t1"}{"op": "get"}',
]


def record(w: dict) -> dict:
    """Return an operation record from a drawn write (status follows the outcome)."""
    op, kind = w["op"], w["type"]
    status = None if kind == "info" else {"ok": 201, "fail": 409}[kind]
    rec = op_record(op, 0, w["token"], w["sku"], w["qty"], w["order_id"], status, kind,
                    w["t0"], w["t0"] + w["span"], None)  # fmt: skip
    if op == "leave":
        rec |= {"shift": "mon", "doctor": "ann"}
    return rec


def minimal(rec: dict) -> dict:
    """Leave out every field that is None or at its default."""
    return {k: v for k, v in rec.items() if v is not None and not (k == "attempt" and v == 0)}


stored = st.lists(
    st.tuples(
        st.integers(1, 9),
        st.sampled_from(TOKENS),
        st.sampled_from(["sku-1", "sku-2"]),
        st.integers(1, 3),
    ),  # fmt: skip
    max_size=12,
)


def orders_of(rows) -> list[dict]:
    """Return stored orders (a token or an id may repeat: planted duplicates and collisions)."""
    at = "2026-01-01T00:00:00.000Z"
    return [{"id": i, "sku": s, "qty": q, "token": t, "created_at": at} for i, t, s, q in rows]


def outcome(fn):
    """Return a report, or the line number of the HistoryError it raised."""
    try:
        return fn()
    except HistoryError as e:
        return f"HistoryError at line {e.lineno}"


def expected(records, rows, items: dict, stock: dict) -> dict:
    """Return the order anomalies' counts and what the report says of the history, by plain
    loops over the careful reader's records and the stored (id, token, sku, qty) rows."""
    known = reference(records)
    tokens, acked = known["tokens"], known["collisions"]
    first, per_token, per_id, sold = {}, Counter(), Counter(), Counter()
    for order_id, token, sku, qty in rows:
        first.setdefault(token, (order_id, sku, qty))
        per_token[token] += 1
        per_id[order_id] += 1
        sold[sku] += qty

    def facts(token) -> dict:
        return tokens.get(token, {"created": NONE, "cancelled": NONE, "sent": (None, None)})

    skus = set(items) | set(stock)
    anomalies = {
        "lost": sum(f["created"] == OK and f["cancelled"] < INFO and t not in first
                    for t, f in tokens.items()),
        "duplicated": sum(n > 1 for n in per_token.values()),
        "id_collision": len({i for i, n in per_id.items() if n > 1} | set(acked)),
        "unexpected": sum(facts(t)["created"] <= FAIL for t in first),
        "resurrected": sum(f["cancelled"] == OK and t in first
                           and f["cancelled_id"] in (None, first[t][0])
                           for t, f in tokens.items()),
        "corrupt_record": sum(facts(t)["sent"] not in ((None, None), (s, q))
                              for _, t, s, q in rows),
        "stock_mismatch": sum(items.get(s, 0) - sold[s] != stock.get(s, 0) for s in skus),
        "oversold": sum(stock.get(s, 0) < 0 or (s in items and sold[s] > items[s]) for s in skus),
    }  # fmt: skip
    return {"anomalies": anomalies, "history": _counts(records, tokens), "recovered": sum(
        f["created"] == INFO and t in first for t, f in tokens.items())}  # fmt: skip


def _counts(records, tokens: dict) -> dict:
    """Count each write op's outcomes, as the report's history does (a cancel by id that
    names no earlier acknowledged order names no token, and is left out)."""
    found = {op: dict.fromkeys(("fail", "info", "ok"), 0) for op in ("creates", "cancels")}
    by_id = {}
    for r in records:
        token = r["token"]
        if r["op"] == "create" and r["type"] == "ok" and r["order_id"] is not None:
            by_id.setdefault(r["order_id"], token)
        if r["op"] == "cancel" and token is None:
            token = by_id.get(r["order_id"])
        if r["op"] in ("create", "cancel") and token is not None:
            found[r["op"] + "s"][r["type"]] += 1
    return found


def summary(report) -> dict | str:
    """Return what expected() computes, as a report gives it (or the error it raised)."""
    if isinstance(report, str):
        return report
    counted = {name: report.anomalies[name] for name in ANOMALIES}
    counts = report.history
    history = {"creates": as_dict(counts.creates), "cancels": as_dict(counts.cancels)}
    return {"anomalies": counted, "history": history, "recovered": report.recovered}


ANOMALIES = ("lost", "duplicated", "id_collision", "unexpected", "resurrected",
             "corrupt_record", "stock_mismatch", "oversold")  # fmt: skip


def careful(lines: list, lenient: bool):
    """Return the careful reader's records of the lines, or the line it refused, named."""
    try:
        return parse_lines(lines, lenient=lenient).ops
    except HistoryError as e:
        return f"HistoryError at line {e.lineno}"


@settings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE])
@given(
    writes=st.lists(write, max_size=25),
    rows=stored,
    stock=st.integers(-2, 60),
    kind=st.sampled_from(["json", "sqlite"]),
    form=st.sampled_from(["full", "minimal"]),
    odd=st.lists(st.tuples(st.integers(0, 30), st.sampled_from(ODD)), max_size=2) | st.just([]),
    lenient=st.booleans(),
    overlaps=st.sampled_from([0, 1, 100]),
)
def test_the_report_agrees_with_a_plain_count_of_the_careful_readers_records(
    tmp_path_factory, writes, rows, stock, kind, form, odd, lenient, overlaps
):
    tmp_path = tmp_path_factory.mktemp("engine")
    records = [record(w) for w in writes]
    records = [minimal(r) for r in records] if form == "minimal" else records
    lines = history_lines(ITEMS, records)
    for at, line in odd:
        lines.insert(1 + at % len(lines), line)
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    stock_items = {"sku-1": stock, "sku-2": 7}
    store = write_store(kind, tmp_path, stock_items, orders_of(rows))
    with HistoryStream(path, lenient) as stream:
        event(f"polars read it: {engine.read_writes(stream) is not None}")
        report = outcome(lambda: check(store, stream, min_overlaps=overlaps))
    read = careful(lines, lenient)
    want = read if isinstance(read, str) else expected(read, rows, ITEMS, stock_items)
    assert summary(report) == want
    if isinstance(read, str):
        return
    # Held in memory, the careful reader's records give the report the file gave.
    held = parse_lines(lines, lenient=True)
    report.history.skipped_lines = held.skipped
    assert check(store, held, min_overlaps=overlaps) == report


@settings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE])
@given(
    writes=st.lists(write, min_size=5, max_size=25),
    rows=stored,
    kind=st.sampled_from(["json", "sqlite"]),
    form=st.sampled_from(["full", "minimal"]),
    odd=st.lists(st.tuples(st.integers(0, 30), st.sampled_from(ODD)), max_size=1) | st.just([]),
)
def test_a_history_and_a_store_read_a_few_lines_and_orders_at_a_time_give_the_same_report(
    tmp_path_factory, monkeypatch, writes, rows, kind, form, odd
):
    # Blocks of 256 bytes: a history of a few records is read in many, and store.json's
    # orders a piece of one or two at a time, so every join between blocks is crossed.
    tmp_path = tmp_path_factory.mktemp("blocks")
    records = [record(w) for w in writes]
    lines = history_lines(ITEMS, [minimal(r) for r in records] if form == "minimal" else records)
    for at, line in odd:
        lines.insert(1 + at % len(lines), line)
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    store = write_store(kind, tmp_path, {"sku-1": 5, "sku-2": 7}, orders_of(rows))
    with HistoryStream(path, lenient=True) as stream:
        whole = check(store, stream)
    with monkeypatch.context() as m, HistoryStream(path, lenient=True) as stream:
        m.setattr(engine, "BLOCK", 256)
        m.setattr(json_stream, "BLOCK", 64)
        assert isinstance(read_store(store).orders.tokens, pl.Series)  # not a str per token
        if kind == "json":  # the store as json.dumps writes it: read a piece at a time
            assert read_json_fast(store) is not None
        assert check(store, stream) == whole
    read = careful(lines, lenient=True)
    assert summary(whole) == expected(read, rows, ITEMS, {"sku-1": 5, "sku-2": 7})


@pytest.mark.parametrize("orders", [0, 1, 40])
def test_an_on_call_store_read_a_piece_at_a_time_is_the_careful_readers(
    tmp_path, monkeypatch, orders
):
    # The rota's lists and the leaves' maps come after the orders, and a token holds the
    # text the reader cuts at and the one that ends the array: neither may be taken for it.
    monkeypatch.setattr(json_stream, "BLOCK", 64)
    tokens = [f't{n}{{"id": 1}}]' for n in range(orders)]
    doc = {"version": 1, "items": {"sku-1": 9}, "next_id": orders + 1,
           "orders": orders_of([(n + 1, t, "sku-1", 1) for n, t in enumerate(tokens)]),
           "shifts": {"mon": ["ann", "bob"]}, "leaves": {"t0": {"shift": "mon"}}}  # fmt: skip
    path = tmp_path / "store.json"
    path.write_text(json.dumps(doc))
    assert read_json_fast(path) is not None
    careful = read_json_carefully(path, path.read_bytes())
    assert read_store(path) == careful and len(careful.orders) == orders
    assert careful.shifts == {"mon": ["ann", "bob"]}


def read_json_fast(path):
    """Return what the streamed read of store.json gives, or None (it was read whole)."""
    from checker.stores import _ORDERS, _WELL_FORMED  # noqa: PLC0415

    return json_stream.streamed_store(path, None, _WELL_FORMED, _ORDERS)


@settings(max_examples=100, deadline=None, suppress_health_check=[FIXTURE])
@given(writes=st.lists(write, max_size=25), form=st.sampled_from(["full", "minimal"]))
def test_polars_reduces_the_facts_the_careful_readers_columns_give(tmp_path_factory, writes, form):
    records = [record(w) for w in writes]
    records = [minimal(r) for r in records] if form == "minimal" else records
    path = tmp_path_factory.mktemp("facts") / "history.jsonl"
    path.write_text("\n".join(history_lines(ITEMS, records)) + "\n")
    with HistoryStream(path) as stream:
        read = engine.read_writes(stream)
        event(f"polars read it: {read is not None}")  # not with a cancel that names only an id
        if read is not None:
            assert facts_of(facts_from(stream, *read[:2])) == facts_of(history_facts(stream))


def facts_of(facts) -> dict:
    """Return every fact per token, by token, and per write, as plain lists."""
    names = facts.writes.tokens.names(np.arange(len(facts.writes.tokens)))
    codes = [facts.code(t) for t in names]
    per_token = {name: getattr(facts, name)[codes].tolist() for name in
                 ("created", "cancelled", "acked", "cancel", "first_sent")}  # fmt: skip
    writes = [facts.writes.tokens.name(c) for c in facts.writes.code.tolist()]
    return {"tokens": names, "writes": writes, "sku": facts.sku.tolist(), **per_token,
            "counts": facts.counts, "collisions": facts.collisions,
            "skus": facts.writes.sku_names}  # fmt: skip


@pytest.mark.parametrize("form", ["full", "minimal"])
def test_a_well_formed_history_is_read_by_polars_not_handed_back(tmp_path, form):
    records = [record({"op": "create", "token": f"t{n}", "type": "ok", "order_id": n,
                       "sku": "sku-1", "qty": 1, "t0": n / 10, "span": 0.2})
               for n in range(1, 6)]  # fmt: skip
    records = [minimal(r) for r in records] if form == "minimal" else records
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(history_lines(ITEMS, records)) + "\n")
    with HistoryStream(path) as stream:
        read = engine.read_writes(stream)
    assert read is not None
    columns, fetch, leaves, _ = read
    assert leaves == []
    assert columns.tokens.names(columns.code) == [f"t{n}" for n in range(1, 6)]
    assert fetch(int(columns.locator[2]))["token"] == "t3"


@pytest.mark.parametrize(
    "line",
    [
        ODD[0],
        ODD[4],
        ODD[5],
        ODD[6],
        ODD[8],
        ODD[9],
        ODD[12],
        ODD[14],
        HEAD + '"token": -1.5e3}',
        HEAD + '"token": {"a": 1}}',
        HEAD + '"token": "t1", "sku": [1]}',
        HEAD + '"token": "t1", "shift": true}',
        HEAD + '"token": "t1", "error": "\\u0000"}',
    ],
    ids=[
        "bad-json",
        "number-token",
        "lone-surrogate",
        "huge-int",
        "attempt-null",
        "float-attempt",
        "cancel-by-id",
        "bool-error",
        "float-token",
        "object-token",
        "array-sku",
        "bool-shift",
        "nul-error",
    ],  # fmt: skip
)
def test_input_polars_reads_otherwise_is_handed_back(tmp_path, line):
    good = json.dumps(record({"op": "create", "token": "t1", "type": "ok", "order_id": 1,
                              "sku": "sku-1", "qty": 1, "t0": 0.1, "span": 0.2}))  # fmt: skip
    path = tmp_path / "history.jsonl"
    lines = [*history_lines(ITEMS, []), good, line]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    with HistoryStream(path, lenient=True) as stream:
        assert engine.read_writes(stream) is None


# Text near a number, a JSON word or a nested value, which polars' Float64 cast may or may not take.
NEAR_NUMBERS = st.text(alphabet="0123456789+-.eEinftyaINFTYA {[\x00x", max_size=9)


@given(st.lists(NEAR_NUMBERS, min_size=1, max_size=50))
def test_a_string_is_doubted_exactly_when_it_may_be_another_json_value(texts):
    strings = pl.Series(texts, dtype=pl.String)
    doubted = strings.to_frame("s").select(engine._maybe_not_a_string(pl.col("s")))["s"]
    number = strings.cast(pl.Float64, strict=False).is_not_null()
    other = [t in ("true", "false") or t[:1] in ("{", "[") or "\x00" in t for t in texts]
    assert doubted.to_list() == (number | pl.Series(other)).to_list()


def test_tokens_that_only_look_like_numbers_are_read_by_polars(tmp_path):
    tokens = ["1a", "0x10", "1e", "e5", "+", "-", ".", "infinite", "True", " 1", "1 ", "t{", "a[1]"]
    records = [record({"op": "create", "token": token, "type": "ok", "order_id": n,
                       "sku": "sku-1", "qty": 1, "t0": n / 10, "span": 0.2})
               for n, token in enumerate(tokens, 1)]  # fmt: skip
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(history_lines(ITEMS, records)) + "\n")
    with HistoryStream(path) as stream:
        read = engine.read_writes(stream)
    assert read is not None
    assert read[0].tokens.names(read[0].code) == tokens


def test_records_are_read_again_past_blank_lines(tmp_path):
    path = tmp_path / "history.jsonl"
    lines = history_lines(ITEMS, [])
    path.write_text(lines[0] + "\n\n  \n" + '{"op": "get"}\r\n\n{"op": "list"}\n')
    starts = engine.line_starts(path)
    text = path.read_bytes()
    assert [text[s : s + 13] for s in starts[1:].tolist()] == [b'{"op": "get"}', b'{"op": "list"']


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_racelab_check_prints_the_report_check_gives(tmp_path, kind):
    records = [
        record({"op": "create", "token": "a", "type": "ok", "order_id": 1, "sku": "sku-1",
                "qty": 2, "t0": 0.0, "span": 0.3}),
        record({"op": "create", "token": "b", "type": "ok", "order_id": 1, "sku": "sku-1",
                "qty": 1, "t0": 0.1, "span": 0.3}),
    ]  # fmt: skip
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(history_lines(ITEMS, records)) + "\n")
    store = write_store(
        kind, tmp_path, {"sku-1": 48, "sku-2": 50}, orders_of([(1, "a", "sku-1", 2)])
    )
    run = subprocess.run(
        [sys.executable, "-m", "racelab", "check", str(store), "--history", str(path), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    with HistoryStream(path) as stream:
        assert json.loads(run.stdout) == msgspec.to_builtins(check(store, stream))
    assert json.loads(run.stdout)["anomalies"]["lost"] == 1
    assert run.returncode == 1


@given(
    tokens=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=30),
    asked=st.lists(st.sampled_from([*TOKENS, "absent"]), max_size=10),
)
@settings(max_examples=50, deadline=None, suppress_health_check=[FIXTURE])
def test_tokens_that_share_a_hash_are_still_told_apart(monkeypatch, tokens, asked):
    def names(table):
        codes = table.lookup(asked)
        return [None if c == -1 else table.name(c) for c in codes.tolist()]

    hashed = Tokens(pl.Series(tokens, dtype=pl.String))
    expected = [t if t in tokens else None for t in asked]
    assert names(hashed) == expected
    with monkeypatch.context() as m:  # every token one hash: told apart by string alone
        m.setattr(pl.Series, "hash", lambda self: pl.Series([7] * len(self), dtype=pl.UInt64))
        collided = Tokens(pl.Series(tokens, dtype=pl.String))
        assert collided.keys is None or len(set(tokens)) == 1
        assert names(collided) == expected
    assert sorted(collided.names(collided.codes)) == sorted(hashed.names(hashed.codes))


@settings(max_examples=100, deadline=None, suppress_health_check=[FIXTURE])
@given(lines=st.lists(st.sampled_from(['{"op": "get"}', "", "  ", "\t", " {}", "\r", "x"])))
def test_line_starts_are_where_the_lines_that_are_not_blank_start(tmp_path_factory, lines):
    text = "\n".join(lines).encode()
    path = tmp_path_factory.mktemp("lines") / "history.jsonl"
    path.write_bytes(text)
    expected, at = [], 0
    for line in text.split(b"\n"):
        if line.strip():
            expected.append(at)
        at += len(line) + 1
    assert engine.line_starts(path).tolist() == expected

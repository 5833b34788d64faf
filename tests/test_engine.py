"""The columnar engine (checker/engine.py) gives the report the numpy engine gives, byte for byte.

Random histories, full and minimal, streamed from a file and held in memory, with random
stores of both formats, anomalies planted in them, and odd lines (bad JSON, a wrong type,
a lone surrogate, a huge int, a missing field) that polars must either read as the careful
reader does or hand back to it.
"""

import json
import subprocess
import sys

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from checker import engine
from checker.report import check
from history import HistoryError, HistoryStream, op_record, parse_lines
from tests.builders import history_lines, write_store

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
    """Return a report as JSON text, or the error it raised, named."""
    try:
        return json.dumps(fn())
    except HistoryError as e:
        return f"HistoryError: {e}"


def both(store, path, lenient: bool, overlaps: int) -> tuple[str, str]:
    """Check one store and history file with each engine; return both outcomes."""
    found = []
    for name in ("numpy", "polars"):
        with HistoryStream(path, lenient) as stream:
            found.append(outcome(lambda s=stream, n=name: check(store, s, min_overlaps=overlaps,
                                                                 engine=n)))  # fmt: skip
    return found[0], found[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[FIXTURE])
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
def test_both_engines_give_the_same_report(
    tmp_path_factory, writes, rows, stock, kind, form, odd, lenient, overlaps
):
    tmp_path = tmp_path_factory.mktemp("engines")
    records = [record(w) for w in writes]
    records = [minimal(r) for r in records] if form == "minimal" else records
    lines = history_lines(ITEMS, records)
    for at, line in odd:
        lines.insert(1 + at % len(lines), line)
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    store = write_store(kind, tmp_path, {"sku-1": stock, "sku-2": 7}, orders_of(rows))
    old, new = both(store, path, lenient, overlaps)
    with HistoryStream(path, lenient) as stream:
        event(f"polars read it: {engine.read_writes(stream) is not None}")
    assert new == old
    try:
        held = parse_lines(lines, lenient=True)
    except HistoryError:
        return
    reports = [outcome(lambda n=n: check(store, held, min_overlaps=overlaps, engine=n))
               for n in ("numpy", "polars")]  # fmt: skip
    assert reports[1] == reports[0]


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
    [ODD[0], ODD[4], ODD[5], ODD[6], ODD[8], ODD[9], ODD[12], ODD[14]],
    ids=[
        "bad-json",
        "number-token",
        "lone-surrogate",
        "huge-int",
        "attempt-null",
        "float-attempt",
        "cancel-by-id",
        "bool-error",
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


def test_records_are_read_again_past_blank_lines(tmp_path):
    path = tmp_path / "history.jsonl"
    lines = history_lines(ITEMS, [])
    path.write_text(lines[0] + "\n\n  \n" + '{"op": "get"}\r\n\n{"op": "list"}\n')
    starts = engine.line_starts(path)
    text = path.read_bytes()
    assert [text[s : s + 13] for s in starts[1:].tolist()] == [b'{"op": "get"}', b'{"op": "list"']


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_racelab_check_prints_the_same_report_with_either_engine(tmp_path, kind):
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
    runs = [
        subprocess.run(
            [sys.executable, "-m", "racelab", "check", str(store), "--history", str(path),
             "--json", "--engine", name],
            capture_output=True, text=True, check=False,
        )
        for name in ("numpy", "polars")
    ]  # fmt: skip
    assert runs[1].stdout == runs[0].stdout
    assert json.loads(runs[1].stdout)["anomalies"]["lost"] == 1
    assert runs[0].returncode == runs[1].returncode == 1


@given(
    tokens=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=30),
    asked=st.lists(st.sampled_from([*TOKENS, "absent"]), max_size=10),
)
@settings(max_examples=50, deadline=None, suppress_health_check=[FIXTURE])
def test_tokens_that_share_a_hash_are_still_told_apart(monkeypatch, tokens, asked):
    def names(table):
        codes = table.lookup(asked, len(asked))
        return [None if c == -1 else table.name(c) for c in codes.tolist()]

    hashed = engine.Tokens(pl.Series(tokens, dtype=pl.String))
    expected = [t if t in tokens else None for t in asked]
    assert names(hashed) == expected
    with monkeypatch.context() as m:  # every token one hash: told apart by string alone
        m.setattr(pl.Series, "hash", lambda self: pl.Series([7] * len(self), dtype=pl.UInt64))
        collided = engine.Tokens(pl.Series(tokens, dtype=pl.String))
        assert collided.keys is None or len(set(tokens)) == 1
        assert names(collided) == expected
    assert sorted(collided.names(collided.codes)) == sorted(hashed.names(hashed.codes))

"""Stale reads planted by hand, each with a clean twin; the whole anomaly table is asserted.

Every case runs on both store formats, the history held in memory and streamed from a
file, written in full and in the minimal form another tool might write.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker import check
from checker.checks import CHECKS
from history import HistoryError, HistoryStream, op_record, parse_lines
from shapes.reports import to_json
from tests.builders import (
    cancel,
    create,
    history_lines,
    history_stream,
    order,
    write_rota_store,
)

ITEMS = {"sku-1": 10}
NONE = dict.fromkeys(CHECKS, 0)
FORMS = [(store, streamed, minimal) for minimal in (False, True) for streamed in (False, True)
         for store in ("json", "sqlite")]  # fmt: skip


@pytest.fixture(params=FORMS, ids=[f"{s}{'-streamed' * t}{'-minimal' * m}" for s, t, m in FORMS])
def form(request):
    """A store format; the history in memory or streamed; full or minimal."""
    return request.param


def read(op, t0, t1, **answer):
    """Return a read record that recorded what it returned (answer: the answer fields)."""
    return op_record(op, 0, answer.pop("token", None), None, None, answer.pop("order_id", None),
                     200, "ok", t0, t1) | answer  # fmt: skip


def leave(token, doctor, t0, t1, shift="s1"):
    """Return an acknowledged leave record."""
    return op_record("leave", 0, token, None, None, None, 200, "ok", t0, t1) | {
        "shift": shift,
        "doctor": doctor,
    }


def minimal(record: dict) -> dict:
    """Keep what another tool must write, and what a read returned."""
    kept = ("op", "type", "t0", "t1", "token", "order_id", "shift", "doctor")
    kept += ("orders", "after_id", "limit", "stock", "on_call")
    kept += ("sku", "qty") if record["op"] == "create" else ()
    return {k: v for k, v in record.items() if k in kept and v is not None}


def write_store(kind, tmp_path, items, orders, shifts):
    """Write a store of kind json or sqlite with these items, orders and rota."""
    return write_rota_store(kind, tmp_path, shifts, items, orders, next_id=100)


def run(form, tmp_path, records, items=None, orders=None, shifts=None):
    """Check a hand-built store against a hand-built history; return the report."""
    kind, streamed, small = form
    records = [minimal(r) for r in records] if small else records
    orders = BOTH if orders is None else orders
    items = {"sku-1": 10 - sum(o["qty"] for o in orders)} if items is None else items
    store = write_store(kind, tmp_path, items, orders, {"s1": ["d2"]} if shifts is None else shifts)
    if streamed:
        with history_stream(tmp_path / "h.jsonl", ITEMS, records) as history:
            return check(store, history, min_overlaps=0)
    history = parse_lines(history_lines(ITEMS, records))
    return check(store, history, min_overlaps=0)


# Two orders: a acknowledged by 0.01 s, b by 0.03 s; and d1's leave of s1 by 0.05 s.
BOTH = [order(1, "a", qty=2), order(2, "b", qty=3)]
WRITES = [
    create("a", order_id=1, qty=2, t0=0.0, t1=0.01),
    create("b", order_id=2, qty=3, t0=0.02, t1=0.03),
    leave("l1", "d1", 0.0, 0.05),
]
PAGE = {"after_id": 0, "limit": 20}


def test_a_list_that_left_out_an_order_acknowledged_before_it_began_is_stale(form, tmp_path):
    report = run(form, tmp_path, [*WRITES, read("list", 0.1, 0.11, orders=[[1, "a"]], **PAGE)])
    assert report.anomalies == NONE | {"stale_read": 1}
    text = report.examples["stale_read"][0].text
    assert text.startswith("list read at 0.100-0.110 s did not return order 2 (token b)")
    assert report.verdict == "failed"


@pytest.mark.parametrize(
    "late",
    [
        read("list", 0.025, 0.11, orders=[[1, "a"]], **PAGE),  # began before b's answer
        read("list", 0.1, 0.11, orders=[[1, "a"], [2, "b"]], **PAGE),  # saw it
        read("list", 0.1, 0.11, orders=[[1, "a"]], after_id=0, limit=1),  # a full page: 1
        read("list", 0.1, 0.11, orders=[[2, "b"]], after_id=1, limit=20),  # after 1
    ],
    ids=["began-before-the-answer", "saw-it", "full-page-before-it", "page-after-it"],
)
def test_a_list_that_was_not_due_to_see_an_order_is_not_stale(form, tmp_path, late):
    report = run(form, tmp_path, [*WRITES, late])
    assert report.anomalies == NONE and report.skipped == []


def test_a_get_answered_not_found_after_the_create_was_acknowledged_is_stale(form, tmp_path):
    report = run(form, tmp_path, [*WRITES, read("get", 0.1, 0.11, token="b", order_id=2,
                                                orders=[])])  # fmt: skip
    assert report.anomalies == NONE | {"stale_read": 1}
    assert "did not return order 2 (token b)" in report.examples["stale_read"][0].text


def test_a_get_after_a_cancel_was_sent_may_miss_the_order(form, tmp_path):
    maybe = cancel("b", 2, type_="info", qty=3, t0=0.05, t1=0.2)  # sent, answer unknown
    records = [*WRITES, maybe, read("get", 0.1, 0.11, token="b", order_id=2, orders=[])]
    report = run(form, tmp_path, records)
    assert report.anomalies == NONE


def test_an_order_the_store_lost_is_lost_not_a_stale_read_of_every_later_read(form, tmp_path):
    records = [*WRITES, read("list", 0.1, 0.11, orders=[[1, "a"]], **PAGE)]
    report = run(form, tmp_path, records, items={"sku-1": 8}, orders=BOTH[:1])
    assert report.anomalies == NONE | {"lost": 1}


@pytest.mark.parametrize("t0, stale", [(0.1, 1), (0.025, 0)], ids=["after-b", "before-b"])
def test_stock_read_above_what_acknowledged_orders_leave_is_stale(form, tmp_path, t0, stale):
    report = run(form, tmp_path, [*WRITES, read("items", t0, t0 + 0.01, stock={"sku-1": 8})])
    assert report.anomalies == NONE | {"stale_read": stale}
    if stale:
        assert "said sku-1 had 8 in stock, but at most 5 could be left" in (
            report.examples["stale_read"][0].text
        )


@pytest.mark.parametrize("t0, stale", [(0.1, 1), (0.03, 0)], ids=["after-leave", "during-it"])
def test_a_doctor_still_on_call_after_their_leave_was_acknowledged_is_stale(
    form, tmp_path, t0, stale
):
    seen = read("shifts", t0, t0 + 0.01, on_call={"s1": ["d1", "d2"]})
    report = run(form, tmp_path, [*WRITES, seen])
    assert report.anomalies == NONE | {"stale_read": stale}
    if stale:
        assert "still had d1 on call for s1, though leave l1" in (
            report.examples["stale_read"][0].text
        )


def test_a_leave_the_store_lost_is_lost_leave_not_stale(form, tmp_path):
    seen = read("shifts", 0.1, 0.11, on_call={"s1": ["d1", "d2"]})
    report = run(form, tmp_path, [*WRITES, seen], shifts={"s1": ["d1", "d2"]})
    assert report.anomalies == NONE | {"lost_leave": 1}


def test_without_a_recorded_answer_the_check_is_not_made_and_says_so(form, tmp_path):
    unrecorded = op_record("list", 0, None, None, None, None, 200, "ok", 0.1, 0.11)
    report = run(form, tmp_path, [*WRITES, unrecorded])
    assert "stale_read" not in report.anomalies and report.skipped == ["stale_read"]
    assert (
        "no read in the history recorded what it returned" in (report.skipped_because["stale_read"])
    )


@pytest.mark.parametrize(
    "answer",
    ['"orders": [[true, "a"]]', '"orders": [[1]]', '"stock": {"sku-1": "8"}', '"on_call": 5',
     '"on_call": {"s1": [1]}', '"limit": "20"'],
)  # fmt: skip
def test_a_misshapen_answer_is_a_bad_line(tmp_path, answer):
    line = '{"op": "list", "type": "ok", "t0": 0.1, "t1": 0.2, ' + answer + "}"
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join([*history_lines(ITEMS, WRITES), line]) + "\n")
    store = write_store("json", tmp_path, {"sku-1": 5}, BOTH, {"s1": ["d2"]})
    with HistoryStream(path) as stream, pytest.raises(HistoryError, match="line 5"):
        check(store, stream)
    with HistoryStream(path, lenient=True) as stream:
        assert check(store, stream).history.skipped_lines == 1


# Streamed and held in memory, on random reads of a random store: the same report, byte for
# byte (polars reads the file; the careful reader's records are the one in memory).
reads = st.lists(
    st.tuples(
        st.sampled_from(["list", "get", "items", "shifts"]),
        st.floats(0, 0.2, allow_nan=False),
        st.lists(st.sampled_from([[1, "a"], [2, "b"], [3, "c"]]), max_size=3),
        st.integers(0, 12),
        st.sampled_from([["d1"], ["d2"], ["d1", "d2"], []]),
    ),
    max_size=8,
)


def random_read(op, t0, orders, stock, doctors) -> dict:
    """Return a read of op at t0 that returned something drawn."""
    answer = {
        "list": {"orders": orders, **PAGE},
        "get": {"orders": orders[:1], "order_id": 2},
        "items": {"stock": {"sku-1": stock}},
        "shifts": {"on_call": {"s1": doctors}},
    }
    return read(op, t0, t0 + 0.01, **answer[op])  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=reads, kind=st.sampled_from(["json", "sqlite"]), small=st.booleans())
def test_a_streamed_history_gives_the_report_of_one_in_memory(tmp_path_factory, drawn, kind, small):
    tmp_path = tmp_path_factory.mktemp("stale")
    records = [*WRITES, *(random_read(*r) for r in drawn)]
    records = [minimal(r) for r in records] if small else records
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(history_lines(ITEMS, records)) + "\n")
    store = write_store(kind, tmp_path, {"sku-1": 5}, BOTH, {"s1": ["d2"]})
    with HistoryStream(path) as stream:
        streamed = to_json(check(store, stream, min_overlaps=0))
    held = parse_lines(history_lines(ITEMS, records))
    assert to_json(check(store, held, min_overlaps=0)) == streamed

"""Every anomaly class planted by hand, with a clean twin; the whole report is asserted. Then
random histories with consistent stores, random anomalies planted: exactly those are found."""

import operator
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker import check, exit_code
from checker.checks import CHECKS
from shapes.reports import Outcomes
from tests.builders import CREATED, cancel, create, history, history_stream, order, write_store

ITEMS = {"sku-1": 10, "sku-2": 10}
# These histories record no read's answer: the stale-read check is not made (its own
# planted cases are in tests/test_stale_reads.py).
UNMADE = [name for name, c in CHECKS.items() if "reads" in c.needs]
NONE = {name: 0 for name in CHECKS if name not in UNMADE}


class Kind(str):
    """A store format; whether the history is held in memory or streamed from a file;
    and whether its records are written in full or in the minimal form another tool might
    write."""

    def __new__(cls, store: str, streamed: bool, minimal: bool = False):
        kind = super().__new__(cls, store)
        kind.streamed, kind.minimal = streamed, minimal
        return kind


FORMS = [
    (store, streamed, minimal)
    for minimal in (False, True)
    for streamed in (False, True)
    for store in ("json", "sqlite")
]


@pytest.fixture(
    params=FORMS,
    ids=[f"{s}{'-streamed' * streamed}{'-minimal' * minimal}" for s, streamed, minimal in FORMS],
)
def kind(request):
    """Both store formats, each with both ways of reading a history, full and minimal."""
    return Kind(*request.param)


def minimal(record: dict) -> dict:
    """Leave out every field the documented defaults fill: only what names the order stays."""
    kept = ("op", "type", "t0", "t1", "token", "order_id")
    kept += ("sku", "qty") if record["op"] == "create" else ()
    return {k: v for k, v in record.items() if k in kept and v is not None}


def run(kind, tmp_path, items, orders, records):
    """Check a hand-built store against a hand-built history."""
    records = [minimal(r) for r in records] if kind.minimal else records
    store = write_store(kind, tmp_path, items, orders)
    # The clean case's creates a and b overlap: one pair on one sku, enough to judge here.
    if kind.streamed:
        with history_stream(tmp_path / "history.jsonl", ITEMS, records) as streamed:
            return check(store, streamed, min_overlaps=1)
    return check(store, history(ITEMS, records), min_overlaps=1)


def clean_case():
    """Two acknowledged orders, one cancelled; stock agrees."""
    orders = [order(1, "a", qty=2), order(3, "c", "sku-2", 1)]
    records = [
        create("a", order_id=1, qty=2),
        create("b", order_id=2, qty=3),
        create("c", order_id=3, sku="sku-2"),
        cancel("b", 2, qty=3),
    ]
    return {"sku-1": 8, "sku-2": 9}, orders, records


def test_clean_history_holds(kind, tmp_path):
    report = run(kind, tmp_path, *clean_case())
    assert report.anomalies == NONE
    assert (report.valid, report.verdict, report.examples) == (True, "held", {})
    assert report.history.creates == Outcomes(ok=3, fail=0, info=0)
    assert report.history.cancels == Outcomes(ok=1, fail=0, info=0)
    assert report.store.orders == 2 and report.store.backend == kind
    assert report.skipped == UNMADE and exit_code(report) == 0


def test_lost(kind, tmp_path):
    items, orders, records = clean_case()
    # The whole-file overwrite that loses an order also loses its stock change: the
    # stock invariant still holds, and only the token shows the loss.
    report = run(kind, tmp_path, items | {"sku-1": 10}, orders[1:], records)
    assert report.anomalies == NONE | {"lost": 1}
    answer = "ok" if kind.minimal else "201"  # a minimal history has no status codes
    assert report.examples["lost"][0].text.startswith(f"token a was acknowledged ({answer}, id 1)")
    assert report.valid is False and exit_code(report) == 1


def test_lost_is_not_claimed_when_a_cancel_may_have_happened(kind, tmp_path):
    items, orders, records = clean_case()
    records.append(cancel("a", 1, type_="info"))
    report = run(kind, tmp_path, items | {"sku-1": 10}, orders[1:], records)
    assert report.anomalies == NONE


def test_info_writes_either_way_are_not_anomalies(kind, tmp_path):
    items, orders, records = clean_case()
    records += [create("landed", "info", sku="sku-2"), create("vanished", "info", sku="sku-2")]
    report = run(
        kind, tmp_path, items | {"sku-2": 8}, orders + [order(4, "landed", "sku-2")], records
    )
    assert report.anomalies == NONE
    assert report.recovered == 1 and report.verdict == "held"


def test_duplicated(kind, tmp_path):
    items, orders, records = clean_case()
    report = run(kind, tmp_path, items | {"sku-1": 6}, orders + [order(7, "a", qty=2)], records)
    assert report.anomalies == NONE | {"duplicated": 1}
    assert report.examples["duplicated"][0].text == "token a is stored 2 times, as ids 1, 7."


def test_id_collision_in_the_store(kind, tmp_path):
    items, orders, records = clean_case()
    records.append(create("d", order_id=9))
    report = run(kind, tmp_path, items | {"sku-1": 7}, orders + [order(3, "d")], records)
    assert report.anomalies == NONE | {"id_collision": 1}
    assert report.examples["id_collision"][0].text == "id 3 is stored on 2 orders (tokens c, d)."


def test_an_id_beyond_int64_stored_twice_is_an_id_collision(tmp_path):
    items, orders, records = clean_case()
    big = 2**64 + 1
    orders += [order(big, "d"), order(big, "e")]
    records += [create("d", order_id=big), create("e", order_id=big)]
    report = run(Kind("json", streamed=True), tmp_path, items | {"sku-1": 6}, orders, records)
    assert report.anomalies["id_collision"] == 1
    assert report.examples["id_collision"][0].text.startswith(f"id {big} is stored on 2")


def test_id_collision_only_the_history_shows(kind, tmp_path):
    items, orders, records = clean_case()
    records += [create("d", order_id=5, t0=2.0, t1=2.5), create("e", order_id=5, t0=2.1, t1=2.4)]
    report = run(kind, tmp_path, items | {"sku-1": 7}, orders + [order(5, "e")], records)
    assert report.anomalies == NONE | {"id_collision": 1, "lost": 1}
    text = report.examples["id_collision"][0].text
    assert text == (
        "tokens d and e all got id 5; their requests overlapped from 2.100 s to "
        "2.400 s; only e is stored: the others' writes were overwritten."
    )
    assert "Token e got the same id 5" in report.examples["lost"][0].text


def test_unexpected(kind, tmp_path):
    items, orders, records = clean_case()
    records.append(create("refused", "fail", sku="sku-2"))
    stored = orders + [order(8, "ghost", "sku-2"), order(9, "refused", "sku-2")]
    report = run(kind, tmp_path, items | {"sku-2": 7}, stored, records)
    assert report.anomalies == NONE | {"unexpected": 2}
    texts = [e.text for e in report.examples["unexpected"]]
    assert texts == [
        "token ghost is stored (id 8) but no client sent it.",
        "token refused is stored (id 9) but every create that sent it failed.",
    ]


def test_resurrected(kind, tmp_path):
    items, orders, records = clean_case()
    report = run(kind, tmp_path, items | {"sku-1": 5}, orders + [order(2, "b", qty=3)], records)
    assert report.anomalies == NONE | {"resurrected": 1}


def test_stock_mismatch(kind, tmp_path):
    items, orders, records = clean_case()
    report = run(kind, tmp_path, items | {"sku-1": 9}, orders, records)
    assert report.anomalies == NONE | {"stock_mismatch": 1}
    assert report.examples["stock_mismatch"][0].text.startswith(
        "sku-1: 10 at the start - 2 in stored orders = 8, but the store says 9: "
        "a stock decrement was overwritten (a lost update)."
    )


def test_oversold(kind, tmp_path):
    records = [create(f"t{n}", order_id=n, qty=4) for n in range(1, 4)]
    stored = [order(n, f"t{n}", qty=4) for n in range(1, 4)]
    report = run(kind, tmp_path, {"sku-1": -2, "sku-2": 10}, stored, records)
    assert report.anomalies == NONE | {"oversold": 1}
    assert report.examples["oversold"][0].text == "sku-1: 12 sold of 10 at the start; stock now -2."


def test_corrupt_record(kind, tmp_path):
    items, orders, records = clean_case()
    orders[1]["qty"] = 5  # the client sent qty 1 under token c
    report = run(kind, tmp_path, items | {"sku-2": 5}, orders, records)
    assert report.anomalies == NONE | {"corrupt_record": 1}
    assert report.examples["corrupt_record"][0].text == (
        "token c was sent as 1 x sku-2 but stored as 5 x sku-2 (id 3)."
    )


@pytest.mark.parametrize("stored_sku", ["sku-1", "sku-2"])
def test_a_token_sent_as_two_skus_is_judged_by_the_copy_sent_first(kind, tmp_path, stored_sku):
    # The second copy's answer is recorded first (answers are recorded as they come back):
    # the order the token stands for is still the one its earliest copy sent.
    records = [create("t", order_id=1, sku="sku-2", t0=0.2, t1=0.3),
               create("t", order_id=1, sku="sku-1", t0=0.1, t1=0.3)]  # fmt: skip
    items = {"sku-1": 10 - (stored_sku == "sku-1"), "sku-2": 10 - (stored_sku == "sku-2")}
    report = run(kind, tmp_path, items, [order(1, "t", sku=stored_sku)], records)
    corrupt = report.anomalies["corrupt_record"]
    assert corrupt == (stored_sku == "sku-2"), report.examples.get("corrupt_record")


def test_ill_typed_record(kind, tmp_path):
    items, orders, records = clean_case()
    orders.append({**order(4, "x"), "qty": "two"})
    records.append(create("x", order_id=4))
    report = run(kind, tmp_path, items | {"sku-1": 7}, orders, records)
    # One fault, one anomaly: the ill-typed order's token is stored (not lost), and its
    # sku's stock, which cannot be added up, is not judged.
    assert report.anomalies == NONE | {"corrupt_record": 1}


def test_an_order_with_no_readable_field_leaves_no_stock_judged(kind, tmp_path):
    items, orders, records = clean_case()
    orders.append({"id": 9, "sku": None, "qty": "two", "token": None, "created_at": CREATED})
    report = run(kind, tmp_path, items | {"sku-2": 3}, orders, records)
    assert report.anomalies == NONE | {"corrupt_record": 1}


def test_without_history_only_store_checks_run(kind, tmp_path):
    items, orders, _ = clean_case()
    report = check(write_store(kind, tmp_path, items, orders + [order(1, "a")]))
    needs_history = [name for name, c in CHECKS.items() if "history" in c.needs]
    assert {"lost", "unexpected", "resurrected", "stock_mismatch"} <= set(needs_history)
    assert report.skipped == needs_history
    others = {name: 0 for name in CHECKS if name not in needs_history}
    assert report.anomalies == {**others, "duplicated": 1, "id_collision": 1}
    assert report.history is None and report.verdict == "failed"


def test_a_crashing_check_is_unknown_and_the_others_still_report(tmp_path, monkeypatch):
    import checker.checks as checks

    def broken(ctx, limit):
        raise RuntimeError("boom")

    monkeypatch.setitem(checks.CHECKS, "lost", checks.CHECKS["lost"]._replace(fn=broken))
    report = run(Kind("json", streamed=False), tmp_path, *clean_case())
    assert report.valid == "unknown" and report.verdict == "unknown"
    assert report.errors == {"lost": "RuntimeError: boom"}
    assert "lost" not in report.anomalies and len(report.anomalies) == len(NONE) - 1
    assert exit_code(report) == 1


def test_a_cancel_named_by_its_order_id_alone_is_tied_to_its_token(kind, tmp_path):
    items, orders, records = clean_case()
    records[3] = {"op": "cancel", "type": "ok", "t0": 1.0, "t1": 1.01, "order_id": 2}
    resurrected = orders + [order(2, "b", qty=3)]
    report = run(kind, tmp_path, items | {"sku-1": 5}, resurrected, records)
    assert report.anomalies == NONE | {"resurrected": 1}
    assert report.history.cancels == Outcomes(ok=1, fail=0, info=0)


def test_the_contention_thread_hands_back_its_value_or_its_error_and_the_switch_interval():
    from checker.compose import Background

    switch = sys.getswitchinterval()
    assert Background(sum, [1, 2, 3]).result() == 6
    failed = Background(operator.truediv, 1, 0)
    with pytest.raises(ZeroDivisionError):
        failed.result()
    assert sys.getswitchinterval() == switch


SKUS = ("sku-1", "sku-2")
INITIAL = dict.fromkeys(SKUS, 1000)

token_plan = st.tuples(
    st.sampled_from(["ok", "ok", "ok", "fail", "info"]),  # create outcome
    st.sampled_from(SKUS),
    st.integers(1, 3),
    st.booleans(),  # an info create landed / an ok create was cancelled
)


def consistent(plans):
    """Return (records, stored orders by token, cancelled orders) for a run that held."""
    records, stored, cancelled = [], {}, {}
    for n, (outcome, sku, qty, flag) in enumerate(plans, 1):
        token = f"t{n}"
        records.append(
            create(
                token,
                outcome,
                n if outcome == "ok" else None,
                sku,
                qty,
                t0=n * 0.01,
                t1=n * 0.01 + 0.005,
            )
        )
        if outcome == "ok" and flag:
            records.append(cancel(token, n, sku=sku, qty=qty, t0=5 + n * 0.01, t1=5.005 + n * 0.01))
            cancelled[token] = order(n, token, sku, qty)
        elif outcome == "ok" or (outcome == "info" and flag):
            stored[token] = order(n, token, sku, qty)
    return records, stored, cancelled


@settings(max_examples=120, deadline=None)
@given(
    plans=st.lists(token_plan, min_size=1, max_size=25),
    plant=st.sets(
        st.sampled_from(["lost", "duplicated", "unexpected", "resurrected", "stock_mismatch"])
    ),
    kind=st.sampled_from(["json", "sqlite"]),
)
def test_exactly_the_planted_anomalies_are_found(tmp_path_factory, plans, plant, kind):
    records, stored, cancelled = consistent(plans)
    acked = [
        t for t, o in stored.items() if any(r["token"] == t and r["type"] == "ok" for r in records)
    ]
    expected = {name: 0 for name, c in CHECKS.items() if "reads" not in c.needs}  # none recorded
    orders = dict(stored)
    extra = []
    if "lost" in plant and acked:
        del orders[acked[0]]  # its stock goes back too: a whole-document overwrite
        expected["lost"] = 1
    if "duplicated" in plant and len(acked) > 1:
        extra.append({**orders[acked[1]], "id": 10_000})
        expected["duplicated"] = 1
    if "unexpected" in plant:
        extra.append(order(10_001, "ghost", "sku-1", 1))
        expected["unexpected"] = 1
    if "resurrected" in plant and cancelled:
        extra.append(next(iter(cancelled.values())))
        expected["resurrected"] = 1
    all_orders = list(orders.values()) + extra
    items = {s: INITIAL[s] - sum(o["qty"] for o in all_orders if o["sku"] == s) for s in SKUS}
    if "stock_mismatch" in plant:
        items["sku-2"] += 1
        expected["stock_mismatch"] = 1
    tmp = tmp_path_factory.mktemp("prop")
    report = check(write_store(kind, tmp, items, all_orders), history(INITIAL, records))
    assert report.anomalies == expected
    assert report.valid is (not any(expected.values()))

"""Contention: overlapping write pairs counted exactly, and `held` only with enough of them."""

import itertools
from array import array
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from checker import MIN_OVERLAPS, check, exit_code
from checker.contention import NOT_SENT, contention
from shapes.reports import Contention
from tests.builders import create, history, order, write_store

ITEMS = {"sku-1": 10, "sku-2": 10}


def spans_on(skus, n, gap=1.0, length=0.5):
    """Return n ok creates spread over skus, each starting gap after the last."""
    return [
        create(f"t{i}", order_id=i + 1, sku=skus[i % len(skus)], t0=i * gap, t1=i * gap + length)
        for i in range(n)
    ]


def checked(tmp_path, records, **options):
    """Store exactly the orders of these creates, with stock to match, and check it."""
    orders = [order(r["order_id"], r["token"], r["sku"]) for r in records]
    sold = {sku: sum(o["sku"] == sku for o in orders) for sku in ITEMS}
    store = write_store("json", tmp_path, {s: ITEMS[s] - sold[s] for s in ITEMS}, orders)
    return check(store, history(ITEMS, records), **options)


def test_writes_that_never_overlapped_are_inconclusive_not_held(tmp_path):
    report = checked(tmp_path, spans_on(["sku-1"], 5), min_overlaps=1)
    assert report.anomalies == dict.fromkeys(report.anomalies, 0)
    assert report.contention == Contention(writes=5, overlaps=0, store_overlaps=0, max_depth=1)
    assert (report.valid, report.verdict, exit_code(report)) == (True, "inconclusive", 3)


def test_overlapping_writes_on_one_sku_are_counted_in_pairs(tmp_path):
    # Three writes on sku-1 all in flight together: 3 pairs, 3 deep; sku-2's one adds
    # store pairs only.
    records = [
        create("a", order_id=1, t0=0.0, t1=1.0),
        create("b", order_id=2, t0=0.1, t1=1.0),
        create("c", order_id=3, t0=0.2, t1=0.9),
        create("d", order_id=4, sku="sku-2", t0=0.5, t1=0.6),
        create("e", order_id=5, t0=1.0, t1=1.1),  # starts as a and b end: no overlap
    ]
    report = checked(tmp_path, records, min_overlaps=3)
    assert report.contention == Contention(writes=5, overlaps=3, store_overlaps=6, max_depth=3)
    assert report.verdict == "held" and exit_code(report) == 0
    assert checked(tmp_path, records, min_overlaps=4).verdict == "inconclusive"


def test_an_anomaly_fails_however_little_the_writes_contended(tmp_path):
    records = spans_on(["sku-1"], 3)
    store = write_store("json", tmp_path, {"sku-1": 8, "sku-2": 10}, [order(1, "t0")])
    report = check(store, history(ITEMS, records))
    assert report.contention.overlaps == 0
    assert report.anomalies["lost"] == 2 and report.verdict == "failed"


def test_a_refused_write_never_reached_the_server_and_does_not_contend():
    t0, t1 = array("d", [0.0, 0.1, 0.2]), array("d", [1.0, 1.0, 1.0])
    assert contention(t0, t1, array("i", [0, 0, NOT_SENT]))["overlaps"] == 1
    assert contention(t0, t1, array("i", [0, 0, 0]))["overlaps"] == 3


def test_the_default_minimum_is_documented():
    contract = (Path(__file__).resolve().parent.parent / "docs" / "contract.md").read_text()
    assert f"at least {MIN_OVERLAPS} pairs" in contract


spans = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, 50),
        st.integers(0, 20),
    ),
    max_size=40,
)


@given(spans)
def test_the_sweep_agrees_with_checking_every_pair(writes):
    t0 = array("d", [float(start) for _, start, _ in writes])
    t1 = array("d", [float(start + length) for _, start, length in writes])
    sku = array("i", [s for s, _, _ in writes])

    def overlap(i, j):
        return max(t0[i], t0[j]) < min(t1[i], t1[j])

    pairs = list(itertools.combinations(range(len(writes)), 2))
    found = contention(t0, t1, sku)
    assert found["store_overlaps"] == sum(overlap(i, j) for i, j in pairs)
    assert found["overlaps"] == sum(overlap(i, j) and sku[i] == sku[j] for i, j in pairs)

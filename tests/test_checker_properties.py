"""Random histories with consistent stores, random anomalies planted: exactly those are found."""

from hypothesis import given, settings
from hypothesis import strategies as st

from checker import check
from checker.checks import CHECKS
from tests.builders import cancel, create, history, order, write_store

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

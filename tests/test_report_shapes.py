"""The output shapes: every document the old dict writers produced reads into its struct and
is written back byte for byte; a document that is not the shape is refused by field."""

import json

import msgspec
import pytest

from checker import check
from shapes.reports import (
    UNKNOWN,
    CheckReport,
    CompareReport,
    LoadSummary,
    Verdict,
    composed,
    from_json,
    to_json,
)
from tests.builders import (
    cancel,
    corpus_report,
    corpus_reports,
    create,
    history,
    order,
    write_store,
)

# Written by the dict writers before the shapes existed (compare runs of json:naive,
# sqlite:transactional@2, an on-call run and a kill run; a hand-built store with every
# orders anomaly): the format the structs must keep. The external run's came after, from a
# compare of examples/express, once a first run showed that shape (expected: null) untested.
DOCUMENTS = [
    ("compare_orders", CompareReport),
    ("compare_oncall", CompareReport),
    ("compare_kill", CompareReport),
    ("compare_external", CompareReport),  # a server of yours: no claim, read through the API
    ("check_through_api", CheckReport),  # final reads failed; the answers show a collision
    ("check_json_naive", CheckReport),
    ("check_oncall", CheckReport),
    ("check_held", CheckReport),
    ("every_anomaly", CheckReport),
    ("load_json_naive", LoadSummary),
    ("load_oncall", LoadSummary),
]


@pytest.mark.parametrize(("name", "shape"), DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_a_document_reads_typed_and_writes_back_byte_for_byte(name, shape):
    text = corpus_report(name)
    typed = from_json(text, shape)
    assert isinstance(typed, shape)
    assert to_json(typed) == text


def test_the_corpus_holds_every_document_the_test_reads_and_no_other():
    assert sorted(corpus_reports()) == sorted(name for name, _ in DOCUMENTS)


def test_the_corpus_reads_as_typed_values():
    report = from_json(corpus_report("compare_kill"), CompareReport)
    entry = report.targets[0]
    assert entry.verdict is Verdict.FAILED and entry.load.latency_ms.p99 > 0
    assert entry.faults[0].restarted is False and entry.faults[0].error
    check = from_json(corpus_report("every_anomaly"), CheckReport)
    assert check.valid is False and check.history is not None
    assert check.history.creates.ok == 8
    assert check.examples["stock_mismatch"][0].sku == "sku-1"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("valid", "maybe"), "$.valid"),
        (("verdict", "passed"), "$.verdict"),
        (("recovered", "3"), "$.recovered"),
    ],
)
def test_a_report_that_is_not_the_shape_is_refused_naming_the_field(change, field):
    document = json.loads(corpus_report("check_held"))
    document[change[0]] = change[1]
    with pytest.raises(msgspec.ValidationError, match=field.replace("$", r"\$")):
        from_json(json.dumps(document), CheckReport)


def test_a_verdict_prints_as_its_word():
    assert f"{Verdict.HELD:>6}|{Verdict.FAILED}" == "  held|failed"
    assert Verdict("inconclusive") is Verdict.INCONCLUSIVE


@pytest.mark.parametrize(
    ("anomalous", "doubtful", "valid"),
    [(True, True, False), (True, False, False), (False, True, UNKNOWN), (False, False, True)],
)
def test_false_beats_unknown_beats_true(anomalous, doubtful, valid):
    assert composed(anomalous, doubtful) == valid


def every_anomaly(tmp_path):
    """Write a JSON store holding one of each orders anomaly; return (store, history)."""
    orders = [
        order(1, "a", qty=2),
        order(3, "c", "sku-2", 5),  # sent as qty 1: a corrupt record
        order(7, "a", qty=2),  # a duplicate
        order(3, "d"),  # id 3 twice in the store
        order(5, "e"),  # e and f both got id 5; f lost
        order(8, "ghost", "sku-2"),  # never sent
        order(2, "b", qty=3),  # cancelled ok: resurrected
        {"id": 11, "sku": "sku-3", "qty": "x", "token": "bad"},  # ill-typed
        order(12, "g", "sku-3", 12),  # more sold than there was
    ]
    records = [
        create("a", order_id=1, qty=2),
        create("b", order_id=2, qty=3),
        create("c", order_id=3, sku="sku-2"),
        cancel("b", 2, qty=3),
        create("d", order_id=9),
        create("e", order_id=5, t0=2.0, t1=2.5),
        create("f", order_id=5, t0=2.1, t1=2.4),
        create("lost", order_id=10, sku="sku-2", t0=0.005, t1=0.02),
        create("g", order_id=12, sku="sku-3", qty=12),
    ]
    items = {"sku-1": 9, "sku-2": 4, "sku-3": -2}
    store = write_store("json", tmp_path, items, orders)
    return store, history({"sku-1": 10, "sku-2": 10, "sku-3": 10}, records)


def test_the_checker_writes_the_documented_report(tmp_path):
    store, records = every_anomaly(tmp_path)
    report = check(store, records, min_overlaps=1)
    written = to_json(report).replace(str(tmp_path), "TMP")
    assert written == corpus_report("every_anomaly")
    assert report.verdict is Verdict.FAILED and report.anomalies["oversold"] == 1

"""The report's charts: round axes, every value drawn where it belongs, well-formed SVG."""

import math
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from racelab.report.charts import anomaly_chart, throughput_chart, timeline_chart
from racelab.report.svg import SymlogScale, number, ticks
from shapes.reports import Latency, Verdict
from tests.builders import compare_entry

SVG = "{http://www.w3.org/2000/svg}"


def entry(name, verdict, anomalies, rps=100.0, p99=50.0, band=(40.0, 70.0)):
    backend, strategy = name.split(":")
    load = {"rps": rps, "latency_ms": Latency(1.0, 1.0, 1.0, p99, p99, p99), "p99_band_ms": band}
    return compare_entry(
        load, target=name, backend=backend, strategy=strategy, workers=4,
        verdict=Verdict(verdict), anomalies=anomalies,
    )  # fmt: skip


@given(st.floats(min_value=1e-3, max_value=1e9, allow_nan=False))
def test_ticks_start_at_zero_reach_the_top_and_step_by_one_two_or_five(top):
    marks = ticks(top)
    assert marks[0] == 0 and marks[-1] >= top * (1 - 1e-9)
    step = marks[1] - marks[0]
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 5, 10))
    assert 2 <= len(marks) <= 6  # a handful of labels, never a crowd


def test_numbers_are_labelled_as_people_read_them():
    assert [number(v) for v in (0, 1, 2500, 0.5, 12.25)] == ["0", "1", "2,500", "0.5", "12.2"]


def test_the_log_scale_keeps_zero_and_orders_counts_by_decade():
    x = SymlogScale(0, 1000, 100, 400)
    assert x(0) == 100 and x(1000) == 400
    assert x(0) < x(1) < x(10) < x(100) < x(1000)


def test_each_anomaly_gets_a_bar_sized_by_its_count_and_a_held_target_none():
    entries = [
        entry("json:naive", "failed", {"lost": 808, "id_collision": 3}),
        entry("json:file-lock", "held", {}),
    ]
    svg = ET.fromstring(anomaly_chart(entries))
    bars = {
        r.find(f"{SVG}title").text: float(r.get("width"))
        for r in svg.iter(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    }
    assert set(bars) == {"json:naive@4: 808 lost", "json:naive@4: 3 id_collision"}
    assert bars["json:naive@4: 808 lost"] > bars["json:naive@4: 3 id_collision"] > 0
    names = {t.text: t.get("fill") for t in svg.iter(f"{SVG}text")}
    assert names["json:naive@4"] == "#c62828" and names["json:file-lock@4"] == "#2e7d32"


def test_throughput_bars_scale_with_the_figures_and_p99_carries_its_band():
    entries = [
        entry(
            "sqlite:naive", "failed", {"stock_mismatch": 10}, rps=200, p99=3000, band=(2500, 3400)
        ),
        entry("sqlite:transactional", "held", {}, rps=800),
    ]
    svg = throughput_chart(entries)
    width = {
        r.find(f"{SVG}title").text: float(r.get("width"))
        for r in ET.fromstring(svg).iter(f"{SVG}rect")
    }
    assert (
        width["sqlite:transactional@4: 800 requests/s"]
        == 4 * width["sqlite:naive@4: 200 requests/s"]
    )
    assert "sqlite:naive@4: p99 3,000.0 ms (95% band 2,500.0-3,400.0 ms)" in width


def test_a_timeline_draws_each_series_over_the_run_and_marks_the_kills():
    rows = [
        {
            "second": s,
            "vus": 50,
            "requests": 100 * s,
            "errors": 0,
            "p50_ms": 1.0,
            "p95_ms": 2.0,
            "p99_ms": 3.0,
        }
        for s in range(1, 11)
    ]
    svg = ET.fromstring(timeline_chart(rows, "json:naive@1 <&>", kills=(4.5,)))
    lines = {p.find(f"{SVG}title").text: p.get("points") for p in svg.iter(f"{SVG}polyline")}
    assert set(lines) == {"requests/s", "errors/s", "p50", "p95", "p99", "users"}
    requests = [tuple(map(float, xy.split(","))) for xy in lines["requests/s"].split()]
    assert len(requests) == 10
    assert all(a[0] < b[0] and a[1] > b[1] for a, b in zip(requests, requests[1:], strict=False))
    assert len(lines["users"].split()) == 19  # a step holds each second's value to the next
    assert len([k for k in svg.iter(f"{SVG}line") if k.get("class") == "kill"]) == 3
    assert "json:naive@1 <&>" in [t.text for t in svg.iter(f"{SVG}text")]

"""Percentiles, summaries and thresholds against known latencies, with exact answers."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtests.stats import (
    Stats,
    Timeline,
    latency_ms,
    new_histogram,
    percentile_band_ms,
    summarize,
)
from loadtests.thresholds import ThresholdError, evaluate, parse_threshold
from shapes.reports import Latency, OpSummary


def stats_with(latencies_us, op="create", status=201):
    """Return Stats holding one request per latency, all ending in second 0."""
    stats = Stats()
    for latency in latencies_us:
        stats.record(op, status, None, latency, 0.5, 1)
    stats.duration_s = 2.0
    return stats


def test_percentiles_of_one_to_a_thousand_microseconds_are_exact():
    histogram = new_histogram()
    for value in range(1, 1001):
        histogram.record_value(value)
    assert latency_ms(histogram) == Latency(
        p50=0.5, p90=0.9, p95=0.95, p99=0.99, p99_9=0.999, max=1.0
    )


def test_a_single_outlier_owns_the_top_percentiles():
    histogram = new_histogram()
    for _ in range(999):
        histogram.record_value(1000)
    histogram.record_value(2000)
    lat = latency_ms(histogram)
    assert (lat.p50, lat.p99, lat.p99_9, lat.max) == (1.0, 1.0, 1.0, 2.0)


def test_large_values_stay_within_a_tenth_of_a_percent():
    histogram = new_histogram()
    histogram.record_value(1_234_567)
    assert abs(latency_ms(histogram).max - 1234.567) / 1234.567 < 0.001


def test_empty_histogram_reports_zeros():
    assert latency_ms(new_histogram()) == Latency(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_summary_counts_errors_by_status_and_op():
    stats = stats_with([1000] * 8)
    stats.record("cancel", 404, "http 404", 500, 1.2, 1)
    stats.record("create", None, "timeout", 1500, 1.3, 1)
    summary = summarize(stats)
    assert (summary.requests, summary.errors, summary.rps) == (10, 2, 5.0)
    assert summary.by_status == {"201": 8, "404": 1, "none": 1}
    assert summary.by_cause == {"http 404": 1, "timeout": 1}
    assert summary.by_op["cancel"] == OpSummary(
        requests=1, errors=1, latency_ms=Latency(0.5, 0.5, 0.5, 0.5, 0.5, 0.5)
    )
    assert summary.by_op["create"].requests == 9


def test_timeline_has_a_row_per_second_including_idle_ones():
    stats = Stats()
    stats.record("create", 201, None, 1000, 0.2, 3)
    stats.record("create", 500, "http 500", 1500, 2.7, 5)
    stats.timeline.close_second()
    rows = stats.timeline.rows
    assert [(r["second"], r["requests"], r["errors"], r["vus"]) for r in rows] == [
        (1, 1, 0, 3),
        (2, 0, 0, 0),
        (3, 1, 1, 5),
    ]
    assert rows[0]["p99_ms"] == 1.0 and rows[2]["p50_ms"] == 1.5


@pytest.mark.parametrize(
    ("expr", "passed", "value"),
    [
        ("p99<150ms", True, 2.0),
        ("p99<1.5ms", False, 2.0),
        ("p50<=1ms", True, 1.0),
        ("max<0.001s", False, 0.002),
        ("p99.9<3000us", True, 2000.0),
        ("errors<1%", False, 10.0),
        ("errors<=1", True, 1.0),
        ("rps>4", True, 5.0),
        ("requests>=10", True, 10.0),
        ("create.p95<1.5ms", False, 2.0),
        ("cancel.errors<50%", True, 0.0),
        ("cancel.p99<1ms", True, 0.0),  # an op never sent measured nothing
        ("create.rps>4", True, 5.0),
        ("create.dropped<1", True, 0.0),  # counted for the whole run only
        ("overlaps>0", False, 0.0),
    ],
)
def test_thresholds_pass_and_fail_on_measured_values(expr, passed, value):
    stats = stats_with([1000] * 9)
    stats.record("create", 500, "http 500", 2000, 0.5, 1)  # 10 requests, 1 error
    summary = summarize(stats)
    [result] = evaluate([parse_threshold(expr)], summary)
    assert (result.expr, result.value, result.passed) == (expr, pytest.approx(value), passed)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("p98<150ms", "unknown metric 'p98'"),
        ("latency<1s", "unknown metric 'latency'"),
        ("p99 150ms", "is not METRIC<VALUE"),
        ("p99<1%", "a latency takes ms, s or us"),
        ("rps>10%", "takes a plain number"),
        ("errors<3ms", "takes a plain number"),
    ],
)
def test_bad_thresholds_are_named(expr, message):
    with pytest.raises(ThresholdError, match=message):
        parse_threshold(expr)


def test_the_p99_band_of_one_to_a_thousand_microseconds_is_its_exact_ranks():
    histogram = new_histogram()
    for value in range(1, 1001):
        histogram.record_value(value)
    # n*q = 990, spread = 1.96 * sqrt(9.9) = 6.17: ranks 983 and 997
    assert percentile_band_ms(histogram) == [0.983, 0.997]
    assert percentile_band_ms(new_histogram()) == [0.0, 0.0]


def exponential_histogram(rng, n: int, mean_us: float = 20_000):
    histogram = new_histogram()
    for _ in range(n):
        histogram.record_value(max(1, int(rng.expovariate(1 / mean_us))))
    return histogram


def test_the_p99_band_covers_the_true_p99_about_95_times_in_100_and_narrows_with_more_requests():
    rng, true_p99_ms = random.Random(7), 20 * math.log(100)  # the exponential's 99th percentile
    bands = [percentile_band_ms(exponential_histogram(rng, 1000)) for _ in range(200)]
    covered = sum(low <= true_p99_ms <= high for low, high in bands)
    assert 180 <= covered <= 198  # 95% of 200, give or take the seeded sample's luck
    longer = percentile_band_ms(exponential_histogram(rng, 20_000))
    widths = sorted(high - low for low, high in bands)
    assert longer[1] - longer[0] < widths[len(widths) // 2] / 2


def test_the_summary_carries_the_p99_band():
    summary = summarize(stats_with(range(1000, 2001)))
    low, high = summary.p99_band_ms
    assert low <= summary.latency_ms.p99 <= high


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 2047), min_size=1, max_size=300))
def test_timeline_percentiles_are_the_histograms_where_it_is_exact(latencies):
    # Below 2,048 us HdrHistogram at 3 digits keeps every value: the two must agree there.
    timeline, histogram = Timeline(), new_histogram()
    for latency in latencies:
        timeline.add(0.5, latency, False, 1)
        histogram.record_value(latency)
    timeline.close_second()
    row = timeline.rows[0]
    expected = latency_ms(histogram)
    assert (row["p50_ms"], row["p95_ms"], row["p99_ms"]) == (
        expected.p50, expected.p95, expected.p99
    )  # fmt: skip
    assert row["requests"] == len(latencies)

"""Latency and count statistics, recorded losslessly; summaries are pure functions of them.

The client emits one sample per request; these classes subscribe. They never see HTTP.
"""

import math
from collections import Counter

from hdrh.histogram import HdrHistogram

from shapes.reports import Latency, LoadSummary, OpSummary, ThresholdResult

# 1 us to 1 hour at 3 significant digits: exact below 2 ms, within 0.1% above.
LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 3
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99_9": 99.9}


def new_histogram() -> HdrHistogram:
    """Return an empty latency histogram in microseconds."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def latency_ms(histogram: HdrHistogram) -> Latency:
    """Return p50..p99.9 and max in milliseconds from a histogram (zeros if empty)."""
    if histogram.get_total_count() == 0:
        return Latency(**dict.fromkeys(PERCENTILES, 0.0), max=0.0)
    values = {name: histogram.get_value_at_percentile(p) / 1000 for name, p in PERCENTILES.items()}
    return Latency(**values, max=histogram.get_max_value() / 1000)


def percentile_band_ms(histogram: HdrHistogram, q: float = 0.99, z: float = 1.96) -> list:
    """Return the 95% confidence band of a percentile, in milliseconds ([0, 0] if empty).

    Distribution-free: the band runs between the order statistics of rank n*q -/+ z*sqrt(n*q*(1-q)),
    so it widens as the run gets shorter. It says how far the sample size alone can move the
    figure; a busy machine moves it further.
    """
    n = histogram.get_total_count()
    if n == 0:
        return [0.0, 0.0]
    spread = z * math.sqrt(n * q * (1 - q))
    ranks = (max(1, math.floor(n * q - spread)), min(n, math.ceil(n * q + spread)))
    return [histogram.get_value_at_percentile(100 * rank / n) / 1000 for rank in ranks]


class Counts:
    """Requests and errors, without latencies."""

    __slots__ = ("requests", "errors")

    def __init__(self):
        self.requests = 0
        self.errors = 0

    def add(self, error: bool) -> None:
        """Count one request."""
        self.requests += 1
        self.errors += error


class OpStats:
    """Counts and latencies of one operation."""

    __slots__ = ("requests", "errors", "histogram")

    def __init__(self):
        self.requests = 0
        self.errors = 0
        self.histogram = new_histogram()

    def add(self, latency_us: int, error: bool) -> None:
        """Record one request."""
        self.requests += 1
        self.errors += error
        self.histogram.record_value(max(LOWEST_US, min(latency_us, HIGHEST_US)))


def merged(histograms) -> HdrHistogram:
    """Return one histogram holding every value of the given ones (lossless)."""
    total = new_histogram()
    for histogram in histograms:
        total.add(histogram)
    return total


class Timeline:
    """Per-second rows (VUs, requests, errors, p50/p95/p99) for charts."""

    def __init__(self):
        self.rows: list[dict] = []
        self._second = 0
        # The second's latencies as a plain list, sorted once when the second closes: a
        # histogram would cost a record_value per request (about 2 us in Python) for rows
        # that need three percentiles. The percentiles are exact, at the rank HdrHistogram
        # picks, so they equal its answers below 2 ms (and lie within its 0.1% above).
        self._latencies: list[int] = []
        self._errors = 0
        self._vus = 0

    def add(self, t1: float, latency_us: int, error: bool, vus: int) -> None:
        """Record a request that ended t1 seconds into the run."""
        while int(t1) > self._second:
            self.close_second()
        if vus > self._vus:
            self._vus = vus
        self._latencies.append(latency_us)
        self._errors += error

    def close_second(self) -> None:
        """Finish the current second's row and start the next."""
        lat = nearest_rank_ms(sorted(self._latencies))
        self.rows.append(
            {
                "second": self._second + 1,
                "vus": self._vus,
                "requests": len(self._latencies),
                "errors": self._errors,
                "p50_ms": lat["p50"],
                "p95_ms": lat["p95"],
                "p99_ms": lat["p99"],
            }
        )
        self._second += 1
        self._latencies = []
        self._errors = self._vus = 0

    def so_far(self) -> dict:
        """Return the percentiles of the second under way so far (racelab ui's live charts)."""
        return nearest_rank_ms(sorted(self._latencies))

    def set_vus(self, vus: int) -> None:
        """Note the VU count, so idle seconds still show their users."""
        self._vus = max(self._vus, vus)


def nearest_rank_ms(ordered: list[int]) -> dict:
    """Return p50..p99.9 in milliseconds of sorted microsecond latencies (zeros if none)."""
    n = len(ordered)
    # HdrHistogram's rank: p% of n rounded half up, at least the first value.
    return {
        name: ordered[min(n, max(1, int(p * n / 100 + 0.5))) - 1] / 1000 if n else 0.0
        for name, p in PERCENTILES.items()
    }


class Stats:
    """Everything a load run measures."""

    def __init__(self):
        # No histogram for the total: merging the per-op ones at the end is lossless and
        # saves one record_value per request.
        self.total = Counts()
        self.by_op: dict[str, OpStats] = {}
        self.by_status: Counter = Counter()
        self.by_cause: Counter = Counter()
        self.dropped = 0
        self.timeline = Timeline()
        self.duration_s = 0.0
        # Contention, as the checker measures it from the history: pairs of writes on one
        # sku in flight together (each counted when the later one is sent).
        self.overlaps = 0
        self.writes_in_flight: Counter = Counter()

    def write_sent(self, sku) -> None:
        """Note a write on sku going out: it overlaps every write on sku still in flight."""
        self.overlaps += self.writes_in_flight[sku]
        self.writes_in_flight[sku] += 1

    def write_done(self, sku) -> None:
        """Note a write on sku finished."""
        self.writes_in_flight[sku] -= 1

    def record(
        self, op: str, status: int | None, cause: str | None, latency_us: int, t1: float, vus: int
    ) -> None:
        """Record one finished request."""
        error = status is None or status >= 400
        self.total.add(error)
        stats = self.by_op.get(op)
        if stats is None:
            stats = self.by_op[op] = OpStats()
        stats.add(latency_us, error)
        self.by_status["none" if status is None else str(status)] += 1
        if cause:
            self.by_cause[cause] += 1
        self.timeline.add(t1, latency_us, error, vus)


def summarize(stats: Stats, thresholds: list[ThresholdResult] | None = None) -> LoadSummary:
    """Return the load summary (the --summary-json document)."""
    duration = stats.duration_s
    overall = merged(s.histogram for s in stats.by_op.values())
    return LoadSummary(
        requests=stats.total.requests,
        duration_s=round(duration, 3),
        rps=round(stats.total.requests / duration, 1) if duration else 0.0,
        errors=stats.total.errors,
        dropped=stats.dropped,
        overlaps=stats.overlaps,
        latency_ms=latency_ms(overall),
        p99_band_ms=percentile_band_ms(overall),
        by_op={
            op: OpSummary(requests=s.requests, errors=s.errors, latency_ms=latency_ms(s.histogram))
            for op, s in sorted(stats.by_op.items())
        },
        by_status=dict(sorted(stats.by_status.items())),
        by_cause=dict(sorted(stats.by_cause.items())),
        thresholds=thresholds or [],
    )

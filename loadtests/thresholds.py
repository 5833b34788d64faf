"""Pass/fail thresholds such as 'p99<150ms', 'errors<1%', 'rps>200', 'create.p95<=80ms'."""

import operator
import re

from loadtests.stats import PERCENTILES
from racelab.exceptions import BadInput
from shapes.reports import Latency, LoadSummary, OpSummary, ThresholdResult

THRESHOLD = re.compile(
    r"\s*(?:(?P<op>[a-z]+)\.)?(?P<metric>[a-z0-9_.]+)\s*(?P<cmp><=|>=|<|>)\s*"
    r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|us|%)?\s*"
)
COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
LATENCY = {**{name: name for name in PERCENTILES}, "p99.9": "p99_9", "max": "max"}
COUNTS = ("errors", "requests", "rps", "dropped", "overlaps")
PLAIN = ("rps", "overlaps")  # not a share of the requests: no percentage
UNIT_MS = {"ms": 1.0, "s": 1000.0, "us": 0.001, None: 1.0}


class ThresholdError(BadInput, ValueError):
    """A threshold that does not parse or names an unknown metric."""


def parse_threshold(text: str) -> dict:
    """Return a parsed threshold, or raise ThresholdError naming what is wrong."""
    match = THRESHOLD.fullmatch(text)
    if not match:
        raise ThresholdError(f"{text!r} is not METRIC<VALUE (e.g. p99<150ms, errors<1%)")
    metric, unit = match["metric"], match["unit"]
    if metric not in LATENCY and metric not in COUNTS:
        known = ", ".join([*LATENCY, *COUNTS])
        raise ThresholdError(f"{text!r} names unknown metric {metric!r} (known: {known})")
    if metric in LATENCY and unit == "%":
        raise ThresholdError(f"{text!r}: a latency takes ms, s or us, not %")
    if metric in COUNTS and unit not in (None, "%") or (unit == "%" and metric in PLAIN):
        raise ThresholdError(f"{text!r}: {metric} takes a plain number or a percentage")
    return {
        "expr": text.strip(),
        "op": match["op"],
        "metric": metric,
        "cmp": match["cmp"],
        "value": float(match["value"]),
        "unit": unit,
    }


# What an op the run never sent measured: nothing.
UNSENT = OpSummary(requests=0, errors=0, latency_ms=Latency(0.0, 0.0, 0.0, 0.0, 0.0, 0.0))


def measured(threshold: dict, summary: LoadSummary) -> float:
    """Return the summary's value for a threshold's metric, in the threshold's unit."""
    op = threshold["op"]
    scope: LoadSummary | OpSummary = summary if op is None else summary.by_op.get(op, UNSENT)
    metric = threshold["metric"]
    if metric in LATENCY:
        # The metric names a field: p99.9 is p99_9 (LATENCY maps each name to its field).
        return getattr(scope.latency_ms, LATENCY[metric]) / UNIT_MS[threshold["unit"]]
    if metric == "rps":
        if op is None:
            return summary.rps
        return scope.requests / summary.duration_s if summary.duration_s else 0.0
    # errors and requests are counted per op; dropped and overlaps only for the whole run.
    value = getattr(scope, metric, getattr(summary, metric, 0))
    if threshold["unit"] == "%":
        return 100.0 * value / scope.requests if scope.requests else 0.0
    return float(value)


def evaluate(thresholds: list[dict], summary: LoadSummary) -> list[ThresholdResult]:
    """Return each threshold's expression, measured value and verdict against a summary."""
    results = []
    for threshold in thresholds:
        value = measured(threshold, summary)
        passed = COMPARE[threshold["cmp"]](value, threshold["value"])
        results.append(ThresholdResult(threshold["expr"], round(value, 3), passed))
    return results

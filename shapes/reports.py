"""The output shapes, defined once: the load summary, the check report, the compare report.

docs/contract.md documents each; the writers, the readers and the formatters derive from
the structs below. Field order is the documents' key order, so a report written from a
struct is byte for byte what the dicts that came before them wrote.
"""

import enum
import json
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType


class Verdict(str, enum.Enum):
    """What a check concluded (docs/contract.md, Check report)."""

    HELD = "held"
    FAILED = "failed"
    UNKNOWN = "unknown"  # a checker crashed, or nothing could be read
    INCONCLUSIVE = "inconclusive"  # no anomaly, but too little contention to tell

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# JSON's own true / false beside the one word: msgspec's enums are all strings or all ints.
UNKNOWN: Literal["unknown"] = "unknown"
Validity = bool | Literal["unknown"]


def composed(anomalous: bool, doubtful: bool) -> Validity:
    """Return false if anything was found, else unknown if in doubt, else true."""
    if anomalous:
        return False
    return UNKNOWN if doubtful else True


# --- the load summary (racelab load --summary-json, each compare target's load.json) ---


class Latency(msgspec.Struct):
    """Percentiles and the maximum, in milliseconds."""

    p50: float
    p90: float
    p95: float
    p99: float
    p99_9: float
    max: float


class OpSummary(msgspec.Struct):
    """One operation's counts and latencies."""

    requests: int
    errors: int
    latency_ms: Latency


class ThresholdResult(msgspec.Struct):
    """A --threshold, the value measured for it, and whether it passed."""

    expr: str
    value: float
    passed: bool


class LoadSummary(msgspec.Struct):
    """What a load run measured (shape, seed and target: added by the run that made it)."""

    requests: int
    duration_s: float
    rps: float
    errors: int
    dropped: int
    overlaps: int
    latency_ms: Latency
    p99_band_ms: list[float]
    by_op: dict[str, OpSummary]
    by_status: dict[str, int]
    by_cause: dict[str, int]
    thresholds: list[ThresholdResult]
    # Added by the run that made it (UNSET: left out of the document).
    shape: dict[str, Any] | UnsetType = UNSET  # loadtests.config.LoadConfig.shape()
    seed: int | UnsetType = UNSET
    target: str | UnsetType = UNSET


# --- the check report (racelab check --json, each compare target's check.json) ---


class StoreInfo(msgspec.Struct):
    """What the store held, as far as it could be read."""

    path: str
    backend: str | None
    readable: bool
    orders: int
    error: str | None
    read: Literal["api", "file"]


class Outcomes(msgspec.Struct):
    """Attempts of one write op, by type."""

    fail: int
    info: int
    ok: int


class HistoryCounts(msgspec.Struct):
    """What the history held."""

    creates: Outcomes
    cancels: Outcomes
    skipped_lines: int


class Contention(msgspec.Struct):
    """How hard the writes contended (checker/contention.py)."""

    writes: int
    overlaps: int
    store_overlaps: int
    max_depth: int


Record = dict[str, Any]  # a history record, as the history format documents it


class Example(msgspec.Struct):
    """One anomaly, in a sentence, with the evidence that shows it (UNSET: none of that kind)."""

    text: str
    stored: Record | list[Record] | UnsetType = UNSET  # the stored order(s) it is about
    sku: str | UnsetType = UNSET
    tokens: list[str] | UnsetType = UNSET
    records: list[Record] | UnsetType = UNSET  # the history records of its tokens
    overlapping: list[Record] | UnsetType = UNSET  # writes that overlapped it in time


class CheckReport(msgspec.Struct):
    """The checker's report; anomalies and examples are keyed by checker.checks' classes."""

    valid: Validity
    store: StoreInfo
    history: HistoryCounts | None
    anomalies: dict[str, int]
    recovered: int
    skipped: list[str]
    skipped_because: dict[str, str]
    examples: dict[str, list[Example]]
    errors: dict[str, str]
    contention: Contention | None  # None without a history
    min_overlaps: int
    verdict: Verdict


# --- the compare report (racelab compare's report.json) ---


class Fault(msgspec.Struct):
    """One kill (or power cut) made during a target's load, and whether it came back."""

    at_s: float
    restarted: bool
    down_s: float | UnsetType = UNSET  # restarted: how long it was down
    error: str | UnsetType = UNSET  # not restarted: why
    power_loss: dict[str, int] | UnsetType = UNSET  # names and files that lost writes


class ReproNote(msgspec.Struct):
    """A reproduction of one example (compare --repro): its spec file and its replays."""

    anomaly: str
    file: str | None
    reproduced: int
    runs: int
    summary: str


class CompareEntry(msgspec.Struct, kw_only=True):
    """One target's row: what it is, what it claims, and what happened to it."""

    target: str
    backend: str
    strategy: str
    workers: int
    why: str | UnsetType = UNSET  # UNSET: an older report (its strategy's, then)
    claims: str | UnsetType = UNSET
    expected: str | None  # the verdict its strategy claims (None: a server of yours claims none)
    workload: str
    read: Literal["api", "file"]
    store_error: str | None
    verdict: Verdict
    faults: list[Fault]
    kills_unmade: list[float] | UnsetType = UNSET  # only with --faults kill
    anomalies: dict[str, int]
    contention: Contention | None
    load: LoadSummary
    dir: str
    examples: dict[str, list[str]]  # the first example's text of each class found
    repro: list[ReproNote] | UnsetType = UNSET  # only with --repro


class CompareReport(msgspec.Struct):
    """A compare run: its settings, one entry per target, and those that could not run."""

    # racelab.compare.settings.Settings (their one definition) and the targets' names.
    settings: dict[str, Any]
    targets: list[CompareEntry]
    could_not_run: list[str]
    seconds: float
    stopped: bool | UnsetType = UNSET  # racelab ui's runs: whether Stop ended it


# --- writing and reading ---

Shape = TypeVar("Shape", LoadSummary, CheckReport, CompareReport)


def to_json(shape: msgspec.Struct) -> str:
    """Return a shape as its documented JSON, indented."""
    # The standard library writes it, as before: it escapes a lone surrogate (a sku a server
    # under test made up) where msgspec refuses one, and writes ints past 64 bits.
    return json.dumps(msgspec.to_builtins(shape), indent=2)


def from_json(text: str | bytes, shape: type[Shape]) -> Shape:
    """Return a shape from its JSON; raise msgspec.ValidationError naming a bad field."""
    # Parsed by the standard library for the same reasons, then converted: typed, checked.
    return msgspec.convert(json.loads(text), shape)


def read_shape(path: Path, shape: type[Shape]) -> Shape:
    """Return the shape stored as JSON at path."""
    return from_json(path.read_bytes(), shape)


def write_shape(path: Path, shape: msgspec.Struct) -> None:
    """Write a shape to path as UTF-8 JSON (what no encoding holds is escaped, not fatal)."""
    path.write_text(to_json(shape), encoding="utf-8", errors="backslashreplace")

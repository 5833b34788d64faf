"""The history format: one JSON object a line, written by the load generator, read by the checker.

The first record is the run record; every other record is one operation attempt.
See docs/contract.md ("History") for the field-by-field description.
"""

import json
import math
from dataclasses import dataclass, field

OPS = ("create", "cancel", "get", "list", "items")
TYPES = ("ok", "fail", "info")
# Field -> the Python types it may take (None marks a nullable field).
OP_FIELDS = {
    "op": (str,),
    "vu": (int,),
    "token": (str, type(None)),
    "sku": (str, type(None)),
    "qty": (int, type(None)),
    "order_id": (int, type(None)),
    "status": (int, type(None)),
    "type": (str,),
    "t0": (int, float),
    "t1": (int, float),
    "error": (str, type(None)),
}
BUFFER_RECORDS = 2048
# One encoder for every record: json.dumps with separators builds a new one per call.
ENCODER = json.JSONEncoder(separators=(",", ":"))


class HistoryError(Exception):
    """A history that cannot be read, with the line that broke it."""

    def __init__(self, path, lineno: int, reason: str):
        super().__init__(f"{path}: line {lineno}: {reason}")
        self.lineno = lineno


def run_record(target: str, started: str, seed, shape: dict, items: dict) -> dict:
    """Return the first record of a history."""
    return {
        "op": "run",
        "target": target,
        "started": started,
        "seed": seed,
        "shape": shape,
        "items": items,
    }


def op_record(
    op, vu, token, sku, qty, order_id, status, type_, t0, t1, error=None, attempt=0
) -> dict:
    """Return one operation record."""
    return {
        "op": op,
        "vu": vu,
        "token": token,
        "sku": sku,
        "qty": qty,
        "order_id": order_id,
        "status": status,
        "type": type_,
        "t0": round(t0, 6),
        "t1": round(t1, 6),
        "error": error,
        "attempt": attempt,
    }


def classify_status(status: int) -> str:
    """Return the Jepsen type of an answered request: 2xx ok, 4xx fail, anything else info."""
    if 200 <= status < 300:
        return "ok"
    if 400 <= status < 500:
        return "fail"
    return "info"


class HistoryWriter:
    """Append records to a JSON Lines file, buffered so writing never paces the load."""

    def __init__(self, path_or_file):
        self._own = isinstance(path_or_file, (str, bytes)) or hasattr(path_or_file, "__fspath__")
        self._file = open(path_or_file, "w") if self._own else path_or_file
        self._lines: list[str] = []
        self.count = 0

    def write(self, record: dict) -> None:
        """Queue one record; flush every few thousand."""
        self._lines.append(ENCODER.encode(record))
        self.count += 1
        if len(self._lines) >= BUFFER_RECORDS:
            self.flush()

    def flush(self) -> None:
        """Write queued records in one call."""
        if self._lines:
            self._file.write("\n".join(self._lines) + "\n")
            self._lines.clear()
        self._file.flush()

    def close(self) -> None:
        """Flush and close the file if this writer opened it."""
        self.flush()
        if self._own:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class History:
    """A parsed history: the run record, the operation records, and lines skipped."""

    run: dict
    ops: list[dict] = field(default_factory=list)
    skipped: int = 0


def validate_op(record) -> str | None:
    """Return why record is not a valid operation record, or None."""
    if not isinstance(record, dict):
        return "a record must be a JSON object"
    for name, types in OP_FIELDS.items():
        if name not in record:
            return f"missing field {name!r}"
        value = record[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"field {name!r} has the wrong type ({type(value).__name__})"
    if record["op"] not in OPS:
        return f"unknown op {record['op']!r}"
    if record["type"] not in TYPES:
        return f"unknown type {record['type']!r}"
    if not (math.isfinite(record["t0"]) and math.isfinite(record["t1"])):
        return "t0 and t1 must be finite numbers"
    return None


def validate_run(record) -> str | None:
    """Return why record is not a valid run record, or None."""
    if not isinstance(record, dict) or record.get("op") != "run":
        return 'the first record must be the run record ({"op": "run", ...})'
    items = record.get("items")
    if not isinstance(items, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in items.items()
    ):
        return "the run record's items must map sku to an integer stock"
    return None


def parse_lines(lines, path="<history>", lenient=False) -> History:
    """Parse history lines; raise HistoryError at the first bad one unless lenient."""
    history = None
    skipped = 0
    ops = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        reason, record = _parse_line(line)
        if reason is None:
            reason = validate_run(record) if history is None else validate_op(record)
        if reason is None:
            if history is None:
                history = History(run=record)
            else:
                ops.append(record)
        elif lenient and history is not None:
            skipped += 1
        else:
            raise HistoryError(path, lineno, reason)
    if history is None:
        raise HistoryError(path, 1, "the history is empty: no run record")
    history.ops, history.skipped = ops, skipped
    return history


def _parse_line(line):
    try:
        return None, json.loads(line)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        return f"not JSON ({str(e)[:120]})", None


def read_history(path, lenient=False) -> History:
    """Read a history file by the documented format."""
    try:
        # Bytes: json.loads decodes each line, so a bad byte is reported with its line.
        with open(path, "rb") as f:
            return parse_lines(f, path, lenient)
    except OSError as e:
        raise HistoryError(path, 0, f"cannot be read ({e.strerror})") from None

"""The history format: one JSON object a line, written by the load generator, read by the checker.

The first record is the run record; every other record is one operation attempt.
See docs/contract.md ("History") for the field-by-field description.
"""

import itertools
import json
import math
from dataclasses import dataclass, field
from json.scanner import make_scanner
from pathlib import Path

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
FIELD_NAMES = tuple(OP_FIELDS)
# Every exact-type combination a valid record may have: checking a record's types becomes one
# set lookup (bool is not int here, as validate_op insists).
_VALID_TYPES = frozenset(itertools.product(*OP_FIELDS.values()))
BUFFER_RECORDS = 2048
READ_BLOCK = 1 << 22  # bytes read at a time by HistoryStream
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


_json_str = json.encoder.encode_basestring_ascii  # the C function json.dumps uses
_OP_LINE = "{" + ",".join(f'"{name}":%s' for name in (*OP_FIELDS, "attempt")) + "}"


def encode_op(op, vu, token, sku, qty, order_id, status, type_, t0, t1, error=None, attempt=0):
    """Return ENCODER.encode(op_record(...)) byte for byte, formatted directly.

    One of these runs for every request of a load; building the dict and walking it with
    the JSON encoder cost twice as much. tests/test_stats.py checks the two agree.
    """
    return _OP_LINE % (
        _json_str(op),
        vu,
        "null" if token is None else _json_str(token),
        "null" if sku is None else _json_str(sku),
        "null" if qty is None else qty,
        "null" if order_id is None else order_id,
        "null" if status is None else status,
        _json_str(type_),
        repr(round(t0, 6)),
        repr(round(t1, 6)),
        "null" if error is None else _json_str(error),
        attempt,
    )


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
        self.write_line(ENCODER.encode(record))

    def write_line(self, line: str) -> None:
        """Queue one record already encoded as a JSON line (see encode_op)."""
        self._lines.append(line)
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

    def close(self) -> None:
        """Release nothing: a History is all in memory (HistoryStream has a file to close)."""


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


def is_valid_op(record) -> bool:
    """Say quickly whether record is a valid operation record (validate_op says why not)."""
    try:
        types = tuple(map(type, map(record.__getitem__, FIELD_NAMES)))
    except (KeyError, TypeError, AttributeError):
        return False
    return (
        types in _VALID_TYPES
        and record["op"] in OPS
        and record["type"] in TYPES
        and math.isfinite(record["t0"])
        and math.isfinite(record["t1"])
    )


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
    for lineno, line in enumerate(lines, 1):
        if history is None:
            if line.strip():
                history = History(run=_run_or_raise(line, path, lineno))
            continue
        record = _checked_op(line, path, lineno, lenient)
        if record is SKIPPED:
            history.skipped += 1
        elif record is not None:
            history.ops.append(record)
    if history is None:
        raise HistoryError(path, 1, "the history is empty: no run record")
    return history


def _run_or_raise(line, path, lineno: int) -> dict:
    """Return the run record on line, or raise HistoryError saying what is wrong."""
    reason, record = _parse_line(line)
    reason = reason or validate_run(record)
    if reason:
        raise HistoryError(path, lineno, reason)
    return record


SKIPPED = object()  # what _checked_op returns for a bad line it was told to skip


def _checked_op(line, path, lineno: int, lenient: bool):
    """Return line's operation record, None for a blank line, SKIPPED if lenient, or raise."""
    if not line.strip():
        return None
    reason, record = _parse_line(line)
    reason = reason or validate_op(record)
    if reason is None:
        return record
    if lenient:
        return SKIPPED
    raise HistoryError(path, lineno, reason)


def _parse_line(line):
    try:
        return None, json.loads(line)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        return f"not JSON ({str(e)[:120]})", None


class HistoryStream:
    """A history file read in one streaming pass, so a million records need not sit in memory.

    The run record is read at once; iterating yields (offset, record) for each operation
    record, and record_at(offset) reads one again (the checker's examples need a few).
    """

    def __init__(self, path, lenient=False):
        self.path, self.lenient, self.skipped = path, lenient, 0
        try:
            self._file = open(path, "rb")
        except OSError as e:
            raise HistoryError(path, 0, f"cannot be read ({e.strerror})") from None
        self._lineno = self._offset = 0  # counted, not asked: a pipe cannot tell()
        self._reader = None
        try:
            self.run = self._read_run()
        except HistoryError:
            self._file.close()
            raise

    def _read_run(self) -> dict:
        for line in self._file:
            self._lineno += 1
            self._offset += len(line)
            if line.strip():
                return _run_or_raise(line, self.path, self._lineno)
        raise HistoryError(self.path, 1, "the history is empty: no run record")

    def __iter__(self):
        """Yield (byte offset, record) for every valid operation record, in file order."""
        lineno = self._lineno
        for base, block in _blocks(self._file, self._offset):
            text = _ascii_text(block)
            if text is None:  # offsets in str and bytes differ: go line by line
                for offset, line in _lines(block):
                    lineno += 1
                    record = self._checked(line, lineno)
                    if record is not None:
                        yield base + offset, record
                continue
            for offset, end in _line_spans(text):
                lineno += 1
                record = _scan_valid(text, offset, end)
                if record is None:  # not a plain valid line: the careful path says why
                    record = self._checked(text[offset : end + 1], lineno)
                if record is not None:
                    yield base + offset, record

    def _checked(self, line, lineno: int):
        """Return line's record, or None for a blank or a skipped line."""
        record = _checked_op(line, self.path, lineno, self.lenient)
        if record is SKIPPED:
            self.skipped += 1
            return None
        return record

    def record_at(self, offset: int) -> dict:
        """Read the record that starts at a byte offset yielded by iteration."""
        if self._reader is None:
            self._reader = open(self.path, "rb")
        self._reader.seek(offset)
        return json.loads(self._reader.readline())

    def close(self) -> None:
        """Close the file (and the one record_at reads from)."""
        self._file.close()
        if self._reader is not None:
            self._reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_scan = make_scanner(json.JSONDecoder())


def _blocks(file, offset: int):
    """Yield (offset, bytes) blocks of whole lines, the first at the given offset."""
    while block := file.read(READ_BLOCK):
        block += file.readline()
        yield offset, block
        offset += len(block)


def _ascii_text(block: bytes) -> str | None:
    """Return block as text if it is ASCII (so str offsets are byte offsets), else None."""
    return block.decode("ascii") if block.isascii() else None


def _lines(block: bytes):
    """Yield (offset, line) for each line of a block, newline kept as file iteration does."""
    offset = 0
    while offset < len(block):
        end = block.find(b"\n", offset) + 1 or len(block)
        yield offset, block[offset:end]
        offset = end


def _line_spans(text: str):
    """Yield (start, end) of each line of text, end at the newline."""
    position, size, find = 0, len(text), text.find
    while position < size:
        end = find("\n", position)
        end = size if end < 0 else end
        yield position, end
        position = end + 1


def _scan_valid(text: str, start: int, end: int):
    """Return the record spanning text[start:end] exactly if it is valid, else None."""
    try:
        record, stop = _scan(text, start)
    except (StopIteration, ValueError, RecursionError):
        return None
    return record if stop == end and type(record) is dict and is_valid_op(record) else None


def open_history(path, lenient=False):
    """Return a HistoryStream for a regular file, or the whole History read from a pipe."""
    if Path(path).is_file():
        return HistoryStream(path, lenient)
    return read_history(path, lenient)


def read_history(path, lenient=False) -> History:
    """Read a whole history file by the documented format into memory."""
    with HistoryStream(path, lenient) as stream:
        ops = [record for _, record in stream]
        return History(run=stream.run, ops=ops, skipped=stream.skipped)

"""Writing histories: the record builders, a direct line encoder, and a buffered writer."""

import json

from history.format import FIELD_NAMES

BUFFER_RECORDS = 2048
# One encoder for every record: json.dumps with separators builds a new one per call.
ENCODER = json.JSONEncoder(separators=(",", ":"))


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
_OP_LINE = "{" + ",".join(f'"{name}":%s' for name in FIELD_NAMES) + "}"


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


def with_fields(line: str, fields: dict) -> str:
    """Return an encoded record with more fields after the usual ones (a leave's, a read's)."""
    return f"{line[:-1]},{ENCODER.encode(fields)[1:]}" if fields else line


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

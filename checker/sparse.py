"""Records found by a byte search of the history: leaves, and reads that recorded an answer.

They are few beside a load's orders, or wanted whole (a read's answer is a list or a map,
which the columnar readers do not hold), so they are read on their own: every line that
holds one of a few words is parsed and validated as the careful reader would, and the
valid ones that are wanted are kept, in history order.
"""

import json
import mmap
from pathlib import Path

from history.format import ANSWER_FIELDS, READ_OPS, validate_op, with_defaults

LEAVE_WORDS = (b'"leave"',)
ANSWER_WORDS = tuple(f'"{name}"'.encode() for name in ANSWER_FIELDS)


def is_leave(record: dict) -> bool:
    """Say whether a valid record is a leave."""
    return record["op"] == "leave"


def is_answered_read(record: dict) -> bool:
    """Say whether a valid record is a read that recorded what it returned."""
    return record["op"] in READ_OPS and any(record[name] is not None for name in ANSWER_FIELDS)


def search(history, words, wanted) -> list[dict]:
    """Return the history's valid records that wanted() keeps, in history order.

    A file is searched for words (each record kept must hold one); a history in memory is
    walked whole.
    """
    if history is None:
        return []
    path = getattr(history, "path", None)
    if path is None or not Path(path).is_file():
        return [dict(r) for _, r in history.entries() if wanted(r)]
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        starts = sorted(set().union(*(_line_starts(data, w, history.first_offset) for w in words)))
        return [r for start in starts for r in _valid(_line_at(data, start)) if wanted(r)]


def _line_starts(data, word: bytes, first: int) -> set[int]:
    """Return where each line that holds word starts."""
    found, at = set(), data.find(word, first)
    while at != -1:
        start = data.rfind(b"\n", 0, at) + 1
        found.add(start)
        end = data.find(b"\n", at)
        if end == -1:
            break
        at = data.find(word, end)
    return found


def _line_at(data, start: int) -> bytes:
    end = data.find(b"\n", start)
    return data[start : len(data) if end == -1 else end]


def _valid(line: bytes) -> list[dict]:
    """Return [the record on line] if it is a valid operation record, else []."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return []
    if not isinstance(record, dict) or validate_op(record):
        return []
    return [with_defaults(record)]


def answered_reads(read_raw, locators: list):
    """Return the answered reads among the records read_raw(locators) gives; False if one
    is not a valid record (the careful reader then says which, or skips it)."""
    try:
        records = read_raw(locators)
    except (ValueError, RecursionError):
        return False
    if any(not isinstance(r, dict) or validate_op(r) for r in records):
        return False
    return [r for r in map(with_defaults, records) if is_answered_read(r)]

"""Reading histories: a streamed reader for files of any size, and an in-memory one.

Both yield the same records: a record that leaves optional fields out gets their defaults
(history.format), so every reader downstream may index every field.
"""

import json
import operator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from history.format import (
    HistoryError,
    Op,
    op_from_dict,
    unidentified,
    validate_op,
    validate_run,
    with_defaults,
)

READ_BLOCK = 1 << 22  # bytes read at a time by HistoryStream


@dataclass
class History:
    """A parsed history: the run record, the operation records, and lines skipped."""

    run: dict
    ops: list[dict] = field(default_factory=list)
    skipped: int = 0

    def entries(self):
        """Yield (locator, record) for every operation record, as HistoryStream does."""
        return enumerate(self.ops)

    def typed_entries(self):
        """Yield (locator, Op) for every operation record, as HistoryStream does."""
        return ((i, op_from_dict(record)) for i, record in enumerate(self.ops))

    def typed_blocks(self):
        """Yield (locators, Ops) in one block, as HistoryStream does in many."""
        yield range(len(self.ops)), [op_from_dict(record) for record in self.ops]

    def record_at(self, locator: int) -> dict:
        """Return the record a locator from entries() names."""
        return self.ops[locator]

    def close(self) -> None:
        """Release nothing: a History is all in memory (HistoryStream has a file to close)."""


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
        return with_defaults(record)
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
        for offset, op in self.typed_entries():
            yield offset, msgspec.structs.asdict(op)

    def typed_entries(self):
        """Yield (byte offset, Op) for every valid operation record, in file order."""
        for offsets, records in self.typed_blocks():
            yield from zip(list(map(int, offsets)), records, strict=True)

    def typed_blocks(self):
        """Yield (byte offsets, Ops) a block at a time: the fast way through a big file.

        A block of well-formed records is decoded in one C pass (its offsets come as a numpy
        array); any other block is read line by line by the careful path, which says what
        is wrong with a bad line.
        """
        lineno, self.skipped = self._lineno, 0  # counted again on a second reading
        for base, block in _blocks(self._file, self._offset):
            starts = _line_starts(block)
            records = _decoded(block, starts)
            if records is not None:
                lineno += len(starts)
                yield starts + base, records
                continue
            offsets, records = [], []
            for offset, line in _lines(block):
                lineno += 1
                record = self._checked(line, lineno)
                if record is not None:
                    offsets.append(base + offset)
                    records.append(op_from_dict(record))
            yield offsets, records

    def entries(self):
        """Yield (byte offset, record) for every operation record: iteration, by its name."""
        return iter(self)

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
        return with_defaults(json.loads(self._reader.readline()))

    def close(self) -> None:
        """Close the file (and the one record_at reads from)."""
        self._file.close()
        if self._reader is not None:
            self._reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def first_offset(self) -> int:
        """Return where the first operation record may start: just after the run record."""
        return self._offset


def _blocks(file, offset: int):
    """Yield (offset, bytes) blocks of whole lines from offset to the end of the file."""
    if file.seekable():  # so a file can be read again from its first operation; a pipe
        file.seek(offset)  # is read once, on from its run record
    while block := file.read(READ_BLOCK):
        block += file.readline()
        yield offset, block
        offset += len(block)


def _lines(block: bytes):
    """Yield (offset, line) for each line of a block, newline kept as file iteration does."""
    offset = 0
    while offset < len(block):
        end = block.find(b"\n", offset) + 1 or len(block)
        yield offset, block[offset:end]
        offset = end


_decode_lines = msgspec.json.Decoder(Op).decode_lines
_TOKEN = operator.attrgetter("token")
NEWLINE, OPEN_BRACE = ord("\n"), ord("{")


def _decoded(block: bytes, starts):
    """Return the block's records as Ops if every line is one valid record, else None."""
    import numpy as np  # noqa: PLC0415 - only a reader of big files needs it

    if not (np.frombuffer(block, np.uint8)[starts] == OPEN_BRACE).all():
        return None  # a line that does not open a record (a blank one, say)
    try:
        records: list[Op] = _decode_lines(block)
    except msgspec.DecodeError:
        return None
    if len(records) != len(starts) or (
        None in map(_TOKEN, records)  # a scan at C speed first: most blocks name every token
        and any(r.token is None and unidentified(r.op, None, r.order_id) for r in records)
    ):
        return None  # two records on a line, or a write that does not name its order
    return records


def _line_starts(block: bytes):
    """Return where each line of a block starts, as a numpy array (a final newline opens none)."""
    import numpy as np  # noqa: PLC0415 - only a reader of big files needs it

    # numpy finds the newlines of a 4 MiB block in about a millisecond; splitting the
    # block into a list of lines and adding up their lengths took five times that.
    ends = np.flatnonzero(np.frombuffer(block, np.uint8) == NEWLINE) + 1
    if ends.size and ends[-1] == len(block):
        ends = ends[:-1]
    return np.concatenate((np.zeros(1, np.int64), ends))


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

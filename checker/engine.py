"""The checker's engine: a history read and its tokens numbered by polars.

polars reads a history file in its own threads, a block at a time, into typed columns,
letting go of the GIL, so the store is read meanwhile (checker/report.py); it numbers the
tokens by hash, tells whether a store repeats a token or an id, and finds the store's
tokens among the history's. The facts per token are reduced from those columns by numpy
(checker/facts.py), and the checks read them (checker/anomalies.py).

polars reads some input other than the careful reader does (a number where a string is
due reads as its text; a lone surrogate as NUL; `"attempt": null` as a missing field).
Each of those is tested for on the columns, and on any of them, or any line polars
cannot take, this engine answers None and the careful reader reads the history: it
names a bad line and recovers what it can (history/read.py, checker/columns.py's
careful_columns). docs/dependencies.md.
"""

import io
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl

from checker.columns import NONE, RANK, WRITES, Columns, unset
from checker.sparse import answered_reads
from checker.tokens import Tokens
from history.format import ANSWER_FIELDS, OP_FIELDS, OPS, TYPES, with_defaults

# The record's fields as polars reads them; a value of another type is an error there,
# except for a string field, which reads any scalar as its text (tested for below). A
# read's answer (a list or a map) is read as its JSON text, only to find the lines that
# hold one: those are read again whole and validated as the careful reader reads them.
DTYPES = {str: pl.String, int: pl.Int64, float: pl.Float64, list: pl.String, dict: pl.String}
SCHEMA = {name: DTYPES[types[-1] if types[0] is int and float in types else types[0]]
          for name, types in OP_FIELDS.items()}  # fmt: skip
# The string fields that may hold any string (op and type must be one of a few names).
NAMED = ("op", "type", *ANSWER_FIELDS)
STRINGS = [name for name, dtype in SCHEMA.items() if dtype == pl.String and name not in NAMED]
# A History in memory holds answers as lists and maps, which polars will not take as text:
# left out (the checks find those reads in memory themselves).
MEMORY_SCHEMA = {name: dtype for name, dtype in SCHEMA.items() if name not in ANSWER_FIELDS}
# What a string polars read may have been read from (_maybe_not_a_string): any text its
# Float64 cast takes, true, false, an object's or an array's text, or NUL (a lone
# surrogate). One regex, not five tests, so each string is scanned once (docs/benchmarks.md, 4).
NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?(?i:inf|infinity|nan)"
NOT_A_STRING = rf"^(?:{NUMBER}|true|false)$|^[{{\[]|\x00"
ANSWERED = pl.any_horizontal([pl.col(name).is_not_null() for name in ANSWER_FIELDS])
WHITESPACE = np.frombuffer(b" \t\r\n", np.uint8)
CHUNK = 1 << 24  # bytes scanned at a time for line starts (only for examples)
# Bytes of history polars reads at a time: its threads share each block. 16 MiB, not 64:
# a fifth less CPU to parse 10M lines, a quarter of the system time (docs/benchmarks.md, 4).
BLOCK = 1 << 24


def read_writes(history) -> tuple[Columns, object, list, list | None] | None:
    """Return a history's writes as columns, a reader of its records by locator, the
    locators of its leave records, and its reads that recorded an answer (None for a
    History in memory); None when polars cannot read it as the careful reader would (that
    reader reads it then).
    """
    path = getattr(history, "path", None)
    frames = _memory_frames(history) if path is None else _file_frames(path)
    blocks, leaves, answered, unsure, first = Blocks(), [], [], False, 0
    try:
        for frame in frames:
            lazy = frame.lazy().with_row_index("locator", offset=first)
            if path is not None and first == 0:  # row 0: the run record, read already
                lazy = lazy.filter(pl.col("locator") > 0)
            first += frame.height
            left = lazy.filter(pl.col("op") == "leave").select("locator")
            answers = lazy.filter(ANSWERED).select("locator") if path else left.head(0)
            valid, writes, left, answers = pl.collect_all(
                [_validity(lazy), _writes(lazy), left, answers]
            )
            del frame, lazy  # the block's other fields: only its writes' are kept
            if not valid["valid"].item():
                return None
            unsure |= valid["unsure"].item()
            blocks.add(writes)
            leaves += left["locator"].to_list()
            answered += answers["locator"].to_list()
    except (pl.exceptions.PolarsError, OverflowError, TypeError, ValueError):
        return None  # a line polars cannot read: bad JSON, a wrong type, a huge int
    if unsure and _says_null(path, "attempt"):
        return None
    reader = None if path is None else LineReader(path)
    reads = None if reader is None else answered_reads(reader.raws, answered)
    if reads is False:
        return None
    fetch = history.record_at if reader is None else reader.record
    return blocks.columns(), fetch, leaves, reads


def _memory_frames(history):
    """Yield a History's records (valid dicts already) as one frame."""
    yield pl.DataFrame(history.ops, schema=MEMORY_SCHEMA)


def _file_frames(path):
    """Yield a history file's lines as frames, BLOCK bytes of whole lines at a time.

    A block at a time, so the file is never all in memory (polars' own scan maps it whole).
    """
    with open(path, "rb") as file:
        while block := file.read(BLOCK):
            block += file.readline()  # whole lines: a record never spans two blocks
            yield pl.read_ndjson(io.BytesIO(block), schema=SCHEMA)


def _validity(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Say, in one row, whether every record is one the careful reader reads the same."""
    op, token = pl.col("op"), pl.col("token")
    required = [
        op.is_in(OPS),
        pl.col("type").is_in(TYPES),
        pl.col("t0").is_finite(),
        pl.col("t1").is_finite(),
        ~op.is_in([*WRITES, "leave"]) | token.is_not_null(),  # a cancel by id: careful
    ]
    strings = [~_maybe_not_a_string(pl.col(name)) for name in STRINGS]
    checks = [c.fill_null(False) for c in required] + [c.fill_null(True) for c in strings]
    # "attempt": null is not valid, and left out it reads as 0; polars reads both as null.
    return frame.select(valid=pl.all_horizontal(checks).all(),
                        unsure=pl.col("attempt").is_null().any())  # fmt: skip


def _maybe_not_a_string(text: pl.Expr) -> pl.Expr:
    """Say whether a string may have been read from another JSON value, or a lone surrogate.

    A number, a boolean, an object or an array read as a string reads as its JSON text; a
    lone surrogate as NUL. A string that looks like one of them may have been one.
    """
    return text.str.contains(NOT_A_STRING)


def _writes(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Return the write records' fields the checks read, in history order."""
    return frame.filter(pl.col("op").is_in(WRITES)).select(
        "locator", "token", "sku", "qty", "order_id", "t0", "t1",
        create=pl.col("op") == "create",
        rank=pl.col("type").replace_strict(RANK, return_dtype=pl.Int8),
        unsent=pl.col("status").is_null(),
    )  # fmt: skip


class Blocks:
    """The writes of a history's blocks, each block made arrays as it is read.

    A block's polars columns are let go as soon as its arrays are made, so a history's
    writes are held once, as narrow arrays (a token's code, a sku's and a locator as
    int32: 12 bytes a write less than as int64), never also as a frame.
    """

    def __init__(self) -> None:
        self.skus: dict = {}  # sku -> code, in order of first mention
        self.parts: dict = defaultdict(list)
        self.tokens: list = []

    def add(self, writes: pl.DataFrame) -> None:
        """Make one block's writes arrays, its sku codes numbered on from the last block's."""
        sku = writes.drop_in_place("sku")
        for name in sku.drop_nulls().unique(maintain_order=True).to_list():
            self.skus.setdefault(name, len(self.skus))
        sku = sku.replace_strict(self.skus, default=NONE, return_dtype=pl.Int32)
        self.parts["sku"].append(sku.fill_null(NONE).to_numpy())
        for name, has in (("qty", "has_qty"), ("order_id", "has_id")):
            values = writes.drop_in_place(name)
            self.parts[name].append(values.fill_null(0).to_numpy())
            self.parts[has].append(values.is_not_null().to_numpy())
        for name in ("create", "rank", "unsent", "t0", "t1"):
            self.parts[name].append(writes.drop_in_place(name).to_numpy())
        locator = writes.drop_in_place("locator").to_numpy()
        self.parts["locator"].append(locator.astype(_narrowest(locator)))
        self.tokens.append(writes.drop_in_place("token"))

    def columns(self) -> Columns:
        """Return every block's writes as one set of columns (each block let go as joined)."""
        columns = Columns(skus=self.skus)
        for name in list(self.parts):
            parts = self.parts.pop(name)
            kind = np.result_type(*parts) if parts else np.int64
            setattr(columns, name, np.concatenate(parts, dtype=kind) if parts else unset())
        tokens = (
            pl.concat(self.tokens, rechunk=False) if self.tokens else pl.Series([], dtype=pl.String)
        )
        self.tokens.clear()
        columns.tokens = Tokens(tokens)
        columns.code = columns.tokens.codes
        if not len(columns.code):  # no write: every column empty, as the careful reader's
            _empty_columns(columns)
        return columns


def _narrowest(locator: np.ndarray) -> type:
    """Return int32 for locators that fit it, else int64."""
    return np.int32 if not locator.size or int(locator.max()) < 2**31 else np.int64


def _empty_columns(columns: Columns) -> None:
    """Give a history with no write its empty columns, typed as the careful reader's."""
    kinds = {"create": bool, "rank": np.int8, "sku": np.int32, "qty": np.int64,
             "has_qty": bool, "order_id": np.int64, "has_id": bool, "unsent": bool,
             "t0": np.float64, "t1": np.float64, "locator": np.int32}  # fmt: skip
    for name, kind in kinds.items():
        setattr(columns, name, np.zeros(0, kind))


def _says_null(path, name: str) -> bool:
    """Say whether a history file may give a field as null (not just leave it out)."""
    import re  # noqa: PLC0415 - only a history that leaves a field out asks

    said = re.compile(rb'"%s"\s*:\s*null' % name.encode())
    with open(path, "rb") as file:
        while block := file.read(CHUNK):
            if said.search(block + file.readline()):  # whole lines: a record never spans two
                return True
    return False


class LineReader:
    """A history file's records read again by locator: the n-th line that is not blank."""

    def __init__(self, path, spill: Path | None = None):
        """spill: a file to keep the lines' starts in, on disk (None: in memory)."""
        self.path, self.spill = path, spill
        self._starts: np.ndarray | None = None

    def record(self, locator: int) -> dict:
        """Return the record at a locator, with every field (as HistoryStream.record_at)."""
        return with_defaults(self.raws([locator])[0])

    def raws(self, locators: list) -> list:
        """Return the JSON values at locators (in increasing order), reading the file once."""
        import json  # noqa: PLC0415 - only examples and answered reads read records again

        if not locators:
            return []
        if self._starts is None:  # one scan, on the first record asked for
            self._starts = line_starts(self.path, self.spill)
        found = []
        with open(self.path, "rb") as file:
            for locator in locators:
                file.seek(int(self._starts[locator]))
                found.append(json.loads(file.readline()))
        return found


def line_starts(path, spill: Path | None = None) -> np.ndarray:
    """Return where each line of a file that is not blank starts (polars skips blank ones);
    with spill, written there a block at a time and returned memory-mapped."""
    found, base = [], 0
    with open(path, "rb") as file, open(spill or os.devnull, "wb") as kept:
        while block := file.read(CHUNK):
            block += file.readline()
            starts = base + _solid_starts(block)
            if spill is None:
                found.append(starts)
            else:
                kept.write(starts.astype(np.int64).tobytes())
            base += len(block)
    if spill is not None:
        return (
            np.fromfile(spill, np.int64)
            if spill.stat().st_size == 0
            else np.memmap(spill, np.int64, "r")
        )
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def _solid_starts(block: bytes) -> np.ndarray:
    """Return where each line of block that is not blank starts."""
    data = np.frombuffer(block, np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(data == ord("\n")) + 1))
    starts = starts[starts < data.size]
    # A record's line starts with "{"; only a line that starts with whitespace may be blank,
    # and those are few: each is looked at whole.
    stops = np.append(starts[1:], data.size)
    doubtful = np.flatnonzero(np.isin(data[starts], WHITESPACE)).tolist()
    blank = [at for at in doubtful if not block[starts[at] : stops[at]].strip()]
    return np.delete(starts, blank)

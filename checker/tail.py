"""A big history's tail read into columns by a second process, while this one reads the store.

Reading a history is one core's work (decode, then one array per field), and so is reading
the store; on a machine with two cores the checker reads the last part of a big history in
a child process while it reads the store, indexes it and reads the history's head itself
(docs/benchmarks.md, section 4). The child takes only blocks of well-formed records: at
anything else it stops, and the parent reads the whole history itself, which is the reader
that names a bad line. A child that fails in any way costs time, never an answer.
"""

import contextlib
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    import fcntl
except ImportError:  # Windows has none
    fcntl = None

MIN_BYTES = 32 << 20  # below this a history is read in well under a second by one process
# The parent's own work and the child's start-up, in the history bytes that could be read
# meanwhile: a store byte costs as much as 1.5 history bytes (JSON) or 4.2 (SQLite), and the
# child's start (0.25 s) as much as 36 MiB. Fitted at 1M and 10M orders from when the child
# finished and when the parent asked for its answer (docs/benchmarks.md, section 4). A
# store read through the API costs the child nothing to wait on, so it counts as none.
STORE_WEIGHT = {".json": 1.5, ".db": 4.2, ".sqlite": 4.2, ".sqlite3": 4.2}
CHILD_START_BYTES = 36 << 20
PIPE_BYTES = 1 << 20  # Linux's largest for a user by default (/proc/sys/fs/pipe-max-size)


@dataclass
class Tail:
    """A child process reading the history from start to the end of the file."""

    start: int
    process: subprocess.Popen

    def result(self) -> dict | None:
        """Return the tail's columns, tokens and skus; None if the child could not read it."""
        try:
            part = pickle.load(self.process.stdout)
        except Exception:  # noqa: BLE001 - any failure of the child means: read it here
            part = None
        finally:
            self.process.stdout.close()
            if self.process.wait() != 0:
                part = None
        if part is not None:
            part["tokens"] = _split(part["tokens"], part["count"])
        return part

    def cancel(self) -> None:
        """Stop the child (the check failed before it needed the tail)."""
        self.process.kill()
        self.process.stdout.close()
        self.process.wait()


def start(history, store_path, min_bytes: int = MIN_BYTES) -> Tail | None:
    """Start a child on the tail of a big history file; None for a small or in-memory one."""
    path = getattr(history, "path", None)
    if path is None or not Path(path).is_file():
        return None
    size = Path(path).stat().st_size
    if size < min_bytes or _cores() < 2:
        return None
    begin = history.line_start_after(history.first_offset + _head_bytes(history, size, store_path))
    if begin >= size:
        return None
    try:
        return start_at(history, begin)
    except OSError:  # no interpreter to start (an embedded Python): read it all here
        return None


def _cores() -> int:
    """Return how many cores this process may run on (a child on the same core only waits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def start_at(history, begin: int) -> Tail:
    """Start a child reading a history file from begin (a line start) to its end."""
    size = Path(history.path).stat().st_size
    command = [sys.executable, "-m", "checker.tail", os.fspath(history.path), str(begin), str(size)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_child_env()
    )
    _widen(process.stdout)
    return Tail(start=begin, process=process)


def _widen(pipe) -> None:
    """Give the pipe a 1 MiB buffer where the system allows it (Linux), 64 KiB by default."""
    # The tail's columns cross it: 400 MB at 10M orders took 0.55-1.2 s in 1 MiB writes,
    # 1.1-1.25 s in 64 KiB ones (docs/benchmarks.md, section 4). Anywhere else: as it is.
    setting = getattr(fcntl, "F_SETPIPE_SZ", None)  # fcntl None: no such setting either
    if setting is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), setting, PIPE_BYTES)


def _child_env() -> dict:
    """Return the environment in which the child imports this very checker, whatever the cwd."""
    root = os.fspath(Path(__file__).resolve().parent.parent)
    paths = [root, os.environ.get("PYTHONPATH")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}


def _head_bytes(history, size: int, store_path) -> int:
    """Return how much of the history the parent reads: the share that evens out the work."""
    records = size - history.first_offset
    suffix = Path(os.fspath(store_path)).suffix if store_path is not None else ""
    store = 0.0
    if suffix in STORE_WEIGHT and Path(store_path).is_file():
        store = Path(store_path).stat().st_size * STORE_WEIGHT[suffix]
    # parent: store + head; child: start-up + (records - head). Equal when head is:
    head = (records + CHILD_START_BYTES - store) / 2
    return int(min(max(head, 0.05 * records), 0.5 * records))


def _joined(tokens: list) -> str | list:
    """Return a block's tokens as one string, the cheapest way to hold and hand them over.

    The list as it is when that string could not be split back into them: a token with a
    newline in it, or None for a cancel that named only an id.
    """
    if None in tokens:
        return tokens
    joined = "\n".join(tokens)
    return joined if joined.count("\n") == len(tokens) - 1 else tokens


def _handed_over(blocks: list) -> str | list:
    """Return every block's tokens as one string, or as one list if any block is a list."""
    if all(isinstance(block, str) for block in blocks):
        return "\n".join(blocks)
    return [t for block in blocks for t in (block.split("\n") if isinstance(block, str) else block)]


def _split(joined, count: int) -> list:
    """Return the tokens _handed_over joined (a list is handed over as it is)."""
    if isinstance(joined, list):
        return joined
    return joined.split("\n") if count else []


def read_range(path, start: int, stop: int) -> dict | None:
    """Return the columns of the writes between two line starts; None at a block not clean."""
    from checker.columns import ARRAYS, block_arrays  # noqa: PLC0415 - the child's import

    skus, tokens, parts, count = {}, [], [], 0
    for block in _clean_blocks(path, start, stop):
        if block is None:
            return None
        block_tokens = []  # joined per block: a million token strings never live at once
        part = block_arrays(skus, block_tokens, *block)
        if part is not None:
            parts.append(part)
            tokens.append(_joined(block_tokens))
            count += len(block_tokens)
    if not parts:
        return {"columns": None, "tokens": [], "count": 0, "skus": list(skus)}
    columns = {name: np.concatenate([p.pop(name) for p in parts]) for name in ARRAYS}
    return {"columns": columns, "tokens": _handed_over(tokens), "count": count, "skus": list(skus)}


def _clean_blocks(path, start: int, stop: int):
    from history.read import clean_blocks  # noqa: PLC0415 - the child's import

    return clean_blocks(path, start, stop)


def main(argv: list) -> int:
    """The child: read a range of the history, write its columns to stdout as a pickle."""
    import gc  # noqa: PLC0415

    gc.disable()  # nothing read here makes a cycle; full passes over a million records do
    path, start, stop = argv[0], int(argv[1]), int(argv[2])
    part = read_range(path, start, stop)
    if part is None:
        return 3
    pickle.dump(part, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

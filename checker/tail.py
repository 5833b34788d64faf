"""A big history read by two processes at once, each taking blocks until they meet.

Reading a history is one core's work (decode, then one array per field), and so is reading
the store; on a machine with two cores a child process reads the history's blocks from the
end backwards while this one reads the store and indexes it, and then this one reads blocks
from the start. Which process reads which block is settled as they go, under a file lock
(Claims): whichever has more time reads more, so no weights fitted on one machine on one
day decide the split (docs/benchmarks.md, section 4). The child takes only blocks of
well-formed records: at anything else it stops, and the parent reads the whole history
itself, which is the reader that names a bad line. A child that fails in any way costs
time, never an answer.
"""

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from checker.claims import Claims

try:
    import fcntl
except ImportError:  # Windows has none: the checker reads a history in one process there
    fcntl = None

MIN_BYTES = 32 << 20  # below this a history is read in well under a second by one process
# One claim. A 4 MiB block is read in about 30 ms: the longest one process can wait for the
# other where they meet, and 400 claims at 10M orders cost a few milliseconds of locking.
BLOCK_BYTES = 4 << 20
PIPE_BYTES = 1 << 20  # Linux's largest for a user by default (/proc/sys/fs/pipe-max-size)


@dataclass
class Tail:
    """A child process reading a history's blocks from the end, and the parent's claims."""

    claims: Claims
    process: subprocess.Popen
    reserved: int = 0  # blocks the parent holds from the start without asking
    taken: int = 0  # blocks the parent has read: the child reads the rest
    when_met: object = None  # called once the parent has taken its last block

    @property
    def end(self) -> int:
        """Return where the history's file ends."""
        return self.claims.bounds[-1]

    def ends(self):
        """Yield where each block the parent takes ends, until it meets the child's."""
        while self.taken < self.reserved or self.claims.take(from_end=False) is not None:
            self.taken += 1
            yield self.claims.bounds[self.taken]
        if self.when_met is not None:  # work for the core the reading no longer needs
            self.when_met()

    def result(self) -> dict | None:
        """Return the child's columns, tokens and skus; None if it could not read them."""
        if self.claims.bounds[self.taken] == self.end:  # the parent read every block
            self.cancel()
            return {"blocks": [], "tokens": [], "count": 0, "skus": [], "start": self.end}
        try:
            part = pickle.load(self.process.stdout)
        except Exception:  # noqa: BLE001 - any failure of the child means: read it here
            part = None
        finally:
            self.process.stdout.close()
            if self.process.wait() != 0:
                part = None
            self.claims.remove()
        if part is None or part["start"] != self.claims.bounds[self.taken]:
            return None
        part["tokens"] = _split(part["tokens"], part["count"])
        return part

    def cancel(self) -> None:
        """Stop the child (the check failed, or the parent read it all)."""
        self.process.kill()
        self.process.stdout.close()
        self.process.wait()
        self.claims.remove()


def start(history, min_bytes: int = MIN_BYTES) -> Tail | None:
    """Start a child on the blocks of a big history file; None for a small or in-memory one."""
    path = getattr(history, "path", None)
    if path is None or not Path(path).is_file() or fcntl is None:
        return None
    size = Path(path).stat().st_size
    if size < min_bytes or _cores() < 2:
        return None
    try:
        return start_at(history, _bounds(history, size))
    except OSError:  # no interpreter to start (an embedded Python): read it all here
        return None


def _cores() -> int:
    """Return how many cores this process may run on (a child on the same core only waits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _bounds(history, size: int) -> list:
    """Return the line starts that cut the history's records into blocks of about BLOCK_BYTES."""
    cuts = range(history.first_offset + BLOCK_BYTES, size, BLOCK_BYTES)
    starts = [history.first_offset, *map(history.line_start_after, cuts), size]
    return sorted(set(starts))  # a line longer than a block makes two cuts one


def start_at(history, bounds: list, reserved: int = 0, fork: bool | None = None) -> Tail:
    """Start a child reading blocks of a history file: bounds are their line starts, then
    the file's end; the parent holds the first `reserved` of them.

    The child is forked where that is safe (Linux, no other thread in this process),
    which spares it starting an interpreter and importing numpy (0.2 s); else it is run
    as `python -m checker.tail`. fork=True or False chooses.
    """
    claims = Claims.create(bounds, reserved)
    try:
        forked = _may_fork() if fork is None else fork
        process = _forked(history.path, claims) if forked else _started(history.path, claims)
    except OSError:
        claims.remove()
        raise
    _widen(process.stdout)
    return Tail(claims=claims, process=process, reserved=reserved)


def _may_fork() -> bool:
    """Say whether a fork is safe here: a lock another thread holds would stay held in it."""
    return sys.platform == "linux" and threading.active_count() == 1


def _started(path, claims: Claims) -> subprocess.Popen:
    """Run the child as a new interpreter."""
    command = [sys.executable, "-m", "checker.tail", os.fspath(path), claims.path]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_child_env()
    )


def _forked(path, claims: Claims) -> "Forked":
    """Fork the child; it writes its answer to a pipe and leaves without running cleanups."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nothing of the parent's may run here, not even atexit
        code = 1
        try:
            os.close(read_end)
            with open(write_end, "wb") as out:
                code = _answer(path, Claims(claims.path), out)
        finally:
            os._exit(code)
    os.close(write_end)
    return Forked(pid, open(read_end, "rb"))


@dataclass
class Forked:
    """A forked child, with what Tail asks of a subprocess: stdout, wait and kill."""

    pid: int
    stdout: object
    returncode: int | None = None

    def wait(self) -> int:
        """Wait for the child to exit; return its exit code."""
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        """Kill the child, unless it has been waited for already."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def _widen(pipe) -> None:
    """Give the pipe a 1 MiB buffer where the system allows it (Linux), 64 KiB by default."""
    # The tail's columns cross it: 400 MB at 10M orders took 0.55-1.2 s in 1 MiB writes,
    # 1.1-1.25 s in 64 KiB ones (docs/benchmarks.md, section 4). Anywhere else: as it is.
    setting = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setting is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), setting, PIPE_BYTES)


def _child_env() -> dict:
    """Return the environment in which the child imports this very checker, whatever the cwd."""
    root = os.fspath(Path(__file__).resolve().parent.parent)
    paths = [root, os.environ.get("PYTHONPATH")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}


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


def read_claimed(path, claims: Claims) -> dict | None:
    """Read blocks from the end until the parent's reading meets them; return their writes
    in file order, with where the first begins. None at a block that is not clean.
    """
    from history.read import clean_block  # noqa: PLC0415 - the child's import

    blocks, start = [], claims.bounds[-1]
    with open(path, "rb") as file:
        while (k := claims.take(from_end=True)) is not None:
            block = clean_block(file, claims.bounds[k], claims.bounds[k + 1])
            if block is None:
                return None
            blocks.append(_block_part(*block))
            start = claims.bounds[k]
    return {**_in_file_order(blocks[::-1]), "start": start}


def _block_part(locators, records) -> tuple | None:
    """Return one block's writes as (arrays, tokens joined, count, its own skus in order)."""
    from checker.columns import block_arrays  # noqa: PLC0415 - the child's import

    skus, tokens = {}, []  # numbered per block: the blocks are read from the end
    arrays = block_arrays(skus, tokens, locators, records)
    return None if arrays is None else (arrays, _joined(tokens), len(tokens), list(skus))


def _in_file_order(blocks: list) -> dict:
    """Return blocks' parts in file order, their skus numbered by first appearance.

    The arrays stay one per block: the parent joins them with its own in one pass (joining
    them here first cost the child a second at 10M orders, while the parent waited).
    """
    from checker.columns import renumbering  # noqa: PLC0415 - the child's import

    skus, arrays, tokens, count = {}, [], [], 0
    for block, joined, n, names in filter(None, blocks):
        block["sku"] = renumbering(skus, names)[block["sku"]]
        arrays.append(block)
        tokens.append(joined)
        count += n
    return {"blocks": arrays, "tokens": _handed_over(tokens), "count": count, "skus": list(skus)}


def _answer(path, claims: Claims, out) -> int:
    """Read the blocks the child claims and write their columns to out; return the exit code."""
    import gc  # noqa: PLC0415

    gc.disable()  # nothing read here makes a cycle; full passes over a million records do
    part = read_claimed(path, claims)
    if part is None:
        return 3
    pickle.dump(part, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()
    return 0


def main(argv: list) -> int:
    """The child run as `python -m checker.tail HISTORY CLAIMS`: its answer to stdout."""
    return _answer(argv[0], Claims(argv[1]), sys.stdout.buffer)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

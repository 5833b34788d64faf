"""JSON-file strategies: the same read-modify-write, guarded four different ways."""

import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path

from servers.errors import Busy
from servers.json_store import document
from servers.oncall import DOCTORS_DEFAULT, SHIFTS_DEFAULT
from servers.stepping import locked, pause
from servers.storage import Store
from servers.writer_queue import WriterQueue

LOCK_TIMEOUT_S = 10.0
OPTIMISTIC_ATTEMPTS = 8


def write_atomically(path: Path, data: bytes, durable: bool) -> None:
    """Write data to a temporary file beside path, then rename it over path.

    durable: fsync the file before the rename and the folder after it, so that the new
    contents survive a power loss once this returns (the rename is only durable once the
    folder that holds the name is fsynced).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make the names in a folder (a create, a rename) survive a power loss."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JsonStore(Store):
    """Shared read-modify-write; strategies differ in _load, _save and their guards."""

    filename = "store.json"

    @classmethod
    def initialize(cls, data_dir, reset: bool, skus: int, stock: int, shifts: int = SHIFTS_DEFAULT,
                   doctors: int = DOCTORS_DEFAULT) -> None:  # fmt: skip
        """Create and seed store.json if missing or reset; refuse an unreadable one."""
        path = Path(data_dir) / cls.filename
        if path.exists() and not reset:
            document.decode(path.read_bytes())
            return
        fresh = document.new_document(skus, stock, shifts, doctors)
        write_atomically(path, document.encode(fresh), True)

    def _load(self) -> document.Document:
        return document.decode(self.path.read_bytes())

    def _save(self, doc: document.Document) -> None:
        write_atomically(self.path, document.encode(doc), durable=False)

    def _exclusive(self):
        """Guard a read-modify-write."""
        return contextlib.nullcontext()

    def _shared(self):
        """Guard a read."""
        return contextlib.nullcontext()

    def _read(self, view):
        with self._shared():
            return view(self._load())

    def _update(self, change) -> tuple:
        with self._exclusive():
            pause("read")
            doc = self._load()
            result, changed = change(doc)
            if changed:
                doc.version += 1
                pause("write")
                self._save(doc)
        return result, changed

    def items(self) -> dict[str, int]:
        return self._read(lambda doc: dict(doc.items))

    def create_order(self, sku: str, qty: int, token: str) -> tuple[dict, bool]:
        return self._update(lambda doc: document.add_order(doc, sku, qty, token))

    def list_orders(self, limit: int, after_id: int) -> list[dict]:
        return self._read(lambda doc: document.orders_after(doc, limit, after_id))

    def get_order(self, order_id: int) -> dict:
        return self._read(lambda doc: document.as_dict(document.find_by_id(doc, order_id)))

    def cancel_order(self, order_id: int) -> None:
        self._update(lambda doc: document.remove_order(doc, order_id))

    def shifts(self) -> dict[str, list[str]]:
        return self._read(lambda doc: {shift: list(d) for shift, d in doc.shifts.items()})

    def leave_shift(self, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
        # Guarded as an order is, through the same pause points: a whole-file store cannot
        # skew two rows apart, but an unguarded one loses a leave when a stale copy of the
        # document is written back over it.
        return self._update(lambda doc: document.take_leave(doc, shift, doctor, token))


class NaiveJsonStore(JsonStore):
    """The data.json server: read the file, change it, write it back in place. No lock.

    Deliberately the code a beginner writes (and slow: json.dump writes in many small
    pieces). Two requests interleave, the later write wins, and a shorter document
    written over a longer one leaves the longer one's tail behind: "Extra data".
    """

    def _load(self) -> document.Document:
        with open(self.path) as f:
            return document.from_plain(json.load(f))

    def _save(self, doc: document.Document) -> None:
        with open(self.path, "w") as f:
            pause("truncated")  # the file is empty now, until json.dump refills it
            json.dump(document.to_plain(doc), f)


class ThreadLockJsonStore(NaiveJsonStore):
    """A mutex around every read and read-modify-write: safe in one process only.

    Each worker process has its own lock, so four workers are four unguarded writers.
    """

    def __init__(self, data_dir):
        super().__init__(data_dir)
        self.after_fork()

    def after_fork(self) -> None:
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _exclusive(self):
        pause("lock")
        with locked(self._lock):
            yield

    def _shared(self):
        return locked(self._lock)


class FileLockJsonStore(JsonStore):
    """An OS file lock around read-modify-write, and an atomic, fsynced replace.

    Holds across processes, crashes and power loss (the file is fsynced before the rename,
    the folder after it). Every write rewrites and fsyncs the whole file,
    so it is slow and gets slower as the store grows. Reads need no lock: a reader
    sees either the old file or the new one, never half of one.
    """

    def __init__(self, data_dir):
        super().__init__(data_dir)
        self.after_fork()

    def after_fork(self) -> None:
        # A new queue per process: a thread lock held at fork stays held in the child. The
        # flock is waited for blocking, so the kernel wakes the next writer the moment the
        # lock is free; filelock's polling took the CPU the holder needed (1.12-1.19x the
        # creates/s, docs/benchmarks.md section 3).
        self._queue = WriterQueue(str(self.path) + ".lock", LOCK_TIMEOUT_S)

    def _save(self, doc: document.Document) -> None:
        write_atomically(self.path, document.encode(doc), durable=True)

    @contextlib.contextmanager
    def _exclusive(self):
        pause("lock")
        with self._queue.turn():
            yield


class OptimisticJsonStore(JsonStore):
    """Optimistic concurrency without a lock: check the version, then write.

    The window: after the version check passes and before os.replace lands, another
    writer can check the same version and replace the file too. Both think they won;
    the later replace erases the earlier write. The check narrows the race, it does
    not close it: check-and-write must be one atomic step, and here it is two.
    """

    def _current_version(self) -> int:
        return self._load().version

    def _update(self, change) -> tuple:
        for _ in range(OPTIMISTIC_ATTEMPTS):
            pause("read")
            doc = self._load()
            seen = doc.version
            result, changed = change(doc)
            if not changed:
                return result, False
            doc.version = seen + 1
            pause("check")
            if self._current_version() == seen:
                # <- the window: nothing stops another writer between check and replace
                pause("write")
                self._save(doc)
                return result, True
        raise Busy(f"The store changed under {OPTIMISTIC_ATTEMPTS} attempts in a row.")

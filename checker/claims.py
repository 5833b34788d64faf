"""Claims on a file's blocks by two processes: one takes them from the start, one from the end.

Used by checker/tail.py, where the checker and a child read one big history together and
whichever has more time reads more.
"""

import contextlib
import os
import struct
import tempfile

import numpy as np

try:
    import fcntl
except ImportError:  # Windows has none: checker/tail.py starts no child there
    fcntl = None

_COUNTERS = struct.Struct("<qq")  # the next block from the start, the next from the end


class Claims:
    """Which blocks of a history each process reads: the parent's from the start, the
    child's from the end, until they meet.

    A small file: two counters, then where each block starts (int64s, the file's end
    last). A process moves a counter only under flock, so each block is read by one.
    """

    def __init__(self, path):
        self.path = path
        # Each process opens the file itself: flock excludes open files, not processes.
        self._file = open(path, "r+b")
        self.bounds = np.frombuffer(self._file.read(), np.int64)[2:].tolist()

    @classmethod
    def create(cls, bounds: list, reserved: int = 0) -> "Claims":
        """Write claims on the blocks between bounds, the first `reserved` held by the parent."""
        fd, path = tempfile.mkstemp(prefix="racelab-claims-")
        with os.fdopen(fd, "wb") as file:
            file.write(_COUNTERS.pack(reserved, len(bounds) - 2))
            file.write(np.asarray(bounds, np.int64).tobytes())
        return cls(path)

    def take(self, from_end: bool) -> int | None:
        """Return the index of the next block from one side; None once they have met."""
        fd = self._file.fileno()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            front, back = _COUNTERS.unpack(os.pread(fd, _COUNTERS.size, 0))
            if front > back:
                return None
            os.pwrite(fd, _COUNTERS.pack(front + (not from_end), back - from_end), 0)
            return back if from_end else front
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def remove(self) -> None:
        """Close and delete the file."""
        self._file.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

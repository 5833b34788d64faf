"""A disk with its own page cache: what was fsynced survives a power loss, nothing else does.

The model is strict POSIX, as LazyFS and CrashMonkey take it: a file's data is durable once
the file is fsynced, and a name (a create, a rename, an unlink) once its directory is
fsynced. Everything else lives in the cache and is dropped by `power_loss`. Pure Python, no
FUSE: racelab.interpose.fs serves it as a mount.
"""

import os
import stat
import time

from racelab.exceptions import RacelabError

PAGE = 4096


class DiskError(RacelabError, OSError):
    """An operation the disk refuses, with the errno a file system would give."""

    errno: int  # always given, unlike a bare OSError's

    def __init__(self, code: int):
        super().__init__(code, os.strerror(code))


class Node:
    """What files and directories share: a mode and times."""

    def __init__(self, mode: int):
        self.mode = mode
        self.atime = self.mtime = self.ctime = time.time_ns()

    def touch(self) -> None:
        """Mark a change now."""
        self.mtime = self.ctime = time.time_ns()


class File(Node):
    """A file: its durable bytes (base) and the cached pages written since the last fsync."""

    def __init__(self, data: bytes = b"", mode: int = 0o644):
        super().__init__(stat.S_IFREG | mode)
        self.base = bytearray(data)
        self.pages: dict[int, bytearray] = {}  # page number -> the page as reads see it
        self.size = len(data)
        # Base bytes at or past floor were cut off by a truncate: they read as zeros.
        self.floor = len(data)

    def read(self, offset: int, size: int) -> bytes:
        """Return up to size bytes at offset, as the processes see them."""
        end = min(self.size, offset + size)
        if offset >= end:
            return b""
        if not self.pages and self.floor == self.size:
            return bytes(self.base[offset:end])
        return b"".join(
            self._piece(p, offset, end) for p in range(offset // PAGE, (end - 1) // PAGE + 1)
        )

    def _piece(self, number: int, offset: int, end: int) -> bytes:
        start, stop = max(offset, number * PAGE), min(end, (number + 1) * PAGE)
        if stop <= start:
            return b""  # a page wholly past the end of the file
        page = self.pages.get(number)
        if page is not None:
            return bytes(page[start - number * PAGE : stop - number * PAGE])
        kept = bytes(self.base[start : min(stop, self.floor)])
        return kept + bytes(stop - start - len(kept))

    def _page(self, number: int) -> bytearray:
        """Return the cached copy of a page, making it from what reads see."""
        if number not in self.pages:
            start = number * PAGE
            self.pages[number] = bytearray(
                self._piece(number, start, min(self.size, start + PAGE)).ljust(PAGE, b"\0")
            )
        return self.pages[number]

    def write(self, offset: int, data: bytes) -> int:
        """Write data at offset into the cache; return how many bytes were written."""
        position = 0
        while position < len(data):
            at = offset + position
            number, inside = divmod(at, PAGE)
            piece = data[position : position + PAGE - inside]
            self._page(number)[inside : inside + len(piece)] = piece
            position += len(piece)
        self.size = max(self.size, offset + len(data))
        self.touch()
        return len(data)

    def truncate(self, length: int) -> None:
        """Cut or extend the file to length, in the cache."""
        if length < self.size:
            number, inside = divmod(length, PAGE)
            if inside:
                page = self._page(number)
                page[inside:] = bytes(PAGE - inside)
            for gone in [n for n in self.pages if n * PAGE >= length]:
                del self.pages[gone]
            self.floor = min(self.floor, length)
        self.size = length
        self.touch()

    def sync(self) -> None:
        """Make what reads see durable (fsync)."""
        del self.base[self.floor :]
        self.base.extend(bytes(self.size - len(self.base)))
        for number, page in self.pages.items():
            start = number * PAGE
            stop = min(start + PAGE, self.size)
            self.base[start:stop] = page[: stop - start]
        self.pages.clear()
        self.floor = self.size

    def lose(self) -> bool:
        """Drop the cache (a power loss); return whether it held anything not fsynced."""
        dropped = bool(self.pages) or not self.size == self.floor == len(self.base)
        self.pages.clear()
        self.size = self.floor = len(self.base)
        return dropped


class Dir(Node):
    """A directory: the names processes see, and the names as of its last fsync."""

    def __init__(self, mode: int = 0o755):
        super().__init__(stat.S_IFDIR | mode)
        self.entries: dict[str, Node] = {}
        self.durable: dict[str, Node] = {}

    def sync(self) -> None:
        """Make the current names durable (fsync of the directory)."""
        self.durable = dict(self.entries)

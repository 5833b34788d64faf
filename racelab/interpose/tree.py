"""The disk's tree: paths to files and directories, open handles, a power loss, a write-back."""

import errno
import itertools
import os
import shutil
import stat
from pathlib import Path

from racelab.interpose.disk import Dir, DiskError, File, Node

RENAME_NOREPLACE = 1  # linux/fs.h


class Disk:
    """A folder's tree held in memory over the real folder it was loaded from."""

    def __init__(self) -> None:
        self.root = Dir()
        self.handles: dict[int, Node] = {}
        self._next = itertools.count(1)

    @classmethod
    def load(cls, folder: Path) -> "Disk":
        """Read a real folder in; all of it is durable, as a disk's contents are at boot."""
        disk = cls()
        _load_dir(disk.root, Path(folder))
        return disk

    def lookup(self, path: str) -> Node:
        """Return the node at path, or raise ENOENT."""
        node: Node = self.root
        for name in _parts(path):
            if not isinstance(node, Dir):
                raise DiskError(errno.ENOTDIR)
            child = node.entries.get(name)
            if child is None:
                raise DiskError(errno.ENOENT)
            node = child
        return node

    def parent(self, path: str) -> tuple[Dir, str]:
        """Return the directory that holds path, and path's last name."""
        *folders, name = _parts(path) or [""]
        folder = self.lookup("/" + "/".join(folders))
        if not isinstance(folder, Dir):
            raise DiskError(errno.ENOTDIR)
        return folder, name

    def file(self, path: str | None, fh: int | None) -> File:
        """Return the file an operation means: by its handle when it has one."""
        if fh:
            node = self.handles.get(fh)
        elif path is not None:
            node = self.lookup(path)
        else:
            raise DiskError(errno.EBADF)  # neither a handle nor a path names a file
        if not isinstance(node, File):
            raise DiskError(errno.EISDIR if isinstance(node, Dir) else errno.EBADF)
        return node

    def open(self, node: Node) -> int:
        """Return a new handle on node."""
        fh = next(self._next)
        self.handles[fh] = node
        return fh

    def release(self, fh: int) -> None:
        """Forget a handle."""
        self.handles.pop(fh, None)

    def create(self, path: str, mode: int) -> File:
        """Create (or open) a regular file at path."""
        folder, name = self.parent(path)
        node = folder.entries.get(name)
        if node is None:
            node = folder.entries[name] = File(mode=stat.S_IMODE(mode))
            folder.touch()
        if not isinstance(node, File):
            raise DiskError(errno.EISDIR)
        return node

    def mkdir(self, path: str, mode: int) -> None:
        """Create a directory at path."""
        folder, name = self.parent(path)
        if name in folder.entries:
            raise DiskError(errno.EEXIST)
        folder.entries[name] = Dir(stat.S_IMODE(mode))
        folder.touch()

    def unlink(self, path: str) -> None:
        """Remove a file's name (its open handles keep it)."""
        folder, name = self.parent(path)
        if isinstance(self.lookup(path), Dir):
            raise DiskError(errno.EISDIR)
        del folder.entries[name]
        folder.touch()

    def rmdir(self, path: str) -> None:
        """Remove an empty directory."""
        folder, name = self.parent(path)
        node = self.lookup(path)
        if not isinstance(node, Dir):
            raise DiskError(errno.ENOTDIR)
        if node.entries:
            raise DiskError(errno.ENOTEMPTY)
        del folder.entries[name]
        folder.touch()

    def rename(self, old: str, new: str, flags: int = 0) -> None:
        """Move a name, replacing what new named (as rename(2) does)."""
        if flags & ~RENAME_NOREPLACE:
            raise DiskError(errno.EINVAL)  # RENAME_EXCHANGE and whiteouts: not modelled
        node = self.lookup(old)
        source, old_name = self.parent(old)
        target, new_name = self.parent(new)
        replaced = target.entries.get(new_name)
        if replaced is not None and flags & RENAME_NOREPLACE:
            raise DiskError(errno.EEXIST)
        if isinstance(replaced, Dir) and (not isinstance(node, Dir) or replaced.entries):
            raise DiskError(errno.ENOTEMPTY if isinstance(node, Dir) else errno.EISDIR)
        del source.entries[old_name]
        target.entries[new_name] = node
        source.touch()
        target.touch()

    def power_loss(self) -> dict:
        """Drop everything not fsynced; return how many names and files lost something."""
        dropped = {"names": 0, "files": 0}
        _lose(self.root, dropped)
        self.handles.clear()
        return dropped

    def write_back(self, folder: Path) -> None:
        """Make the real folder hold what the disk holds now."""
        _write_dir(self.root, Path(folder))


def _parts(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def _load_dir(folder: Dir, real: Path) -> None:
    for entry in os.scandir(real):
        if entry.is_dir(follow_symlinks=False):
            sub = Dir(stat.S_IMODE(entry.stat().st_mode))
            _load_dir(sub, Path(entry.path))
            folder.entries[entry.name] = sub
        elif entry.is_file(follow_symlinks=False):
            mode = stat.S_IMODE(entry.stat().st_mode)
            folder.entries[entry.name] = File(Path(entry.path).read_bytes(), mode)
        # sockets and links are skipped: nothing racelab stores
    folder.sync()


def _lose(folder: Dir, dropped: dict) -> None:
    current, folder.entries = folder.entries, dict(folder.durable)
    names = current.keys() | folder.entries.keys()
    dropped["names"] += sum(current.get(n) is not folder.entries.get(n) for n in names)
    for node in folder.entries.values():
        if isinstance(node, Dir):
            _lose(node, dropped)
        elif isinstance(node, File):
            dropped["files"] += node.lose()


def _write_dir(folder: Dir, real: Path) -> None:
    real.mkdir(exist_ok=True)
    for gone in set(os.listdir(real)) - set(folder.entries):
        path = real / gone
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    for name, node in folder.entries.items():
        path = real / name
        if path.is_symlink():
            path.unlink()  # replaced, never written through
        if isinstance(node, Dir):
            if path.exists() and not path.is_dir():
                path.unlink()
            _write_dir(node, path)
        elif isinstance(node, File):
            if path.is_dir():
                shutil.rmtree(path)
            path.write_bytes(node.read(0, node.size))
        os.chmod(path, stat.S_IMODE(node.mode))

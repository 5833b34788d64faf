"""Serve a folder through FUSE, with a page cache of its own that a power loss empties.

`python -m racelab.interpose.fs FOLDER MOUNTPOINT` mounts FOLDER's tree at MOUNTPOINT and
prints `ready` once the kernel talks to it. It reads commands on stdin, one a line:
`power-loss` drops every write and name not fsynced, prints `lost {"names": N, "files": N}`
and unmounts; `stop` (or stdin closing: the parent died) unmounts keeping everything, as a
clean shutdown flushes everything. Either way the folder then holds what survived, and the
process prints `stopped`. Each operation passes a hook first (`--trace FILE` writes each as
a JSON line; `--hold SOCKET` asks racelab before each one that is a pause point, by
racelab/interpose/holds.py): the interposition point for anything that wants to watch or
hold file I/O.
"""

import argparse
import errno
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from racelab.interpose.disk import Dir, DiskError, File, Node
from racelab.interpose.holds import SECRET_ENV, holder
from racelab.interpose.mount import fuse_problem
from racelab.interpose.tree import Disk

Hook = Callable[[dict], None]  # sees each operation before it is done; may hold it


def _errno(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class Interposer:
    """The FUSE operations over a Disk; every call passes the hook, then takes the lock."""

    use_ns = True  # times in nanoseconds, as the Disk keeps them

    def __init__(self, disk: Disk, folder: Path, hook: Hook | None = None) -> None:
        self.disk, self.folder, self.hook = disk, folder, hook or (lambda event: None)
        self._mutex = threading.Lock()
        self.paths: dict[int, str] = {}  # handle -> the path it was opened by, for the hook
        self.off = False  # after a power loss: nothing reads or writes any more

    def _call(self, event: dict, action):
        """Tell the hook, then apply action to the disk under the lock."""
        self.hook(event)  # outside the lock: a hook may hold this one operation
        with self._mutex:
            if self.off:
                raise _errno(errno.EIO)
            try:
                return action()
            except DiskError as e:
                raise _errno(e.errno) from None

    def _path(self, path, fh) -> str | None:
        return path if path is not None else self.paths.get(fh)

    def init(self, path) -> None:
        print("ready", flush=True)

    def getattr(self, path, fh=None) -> dict:
        with self._mutex:
            try:
                node = self.disk.handles.get(fh) or self.disk.lookup(path)
            except DiskError as e:
                raise _errno(e.errno) from None
            return _attributes(node)

    def access(self, path, amode) -> int:
        return 0

    def statfs(self, path) -> dict:
        real = os.statvfs(self.folder)  # the space the write-back will have
        return {key: getattr(real, key) for key in dir(real) if key.startswith("f_")}

    def readdir(self, path, fh):
        node = self._call({"op": "readdir", "path": path}, lambda: self.disk.lookup(path))
        return [".", "..", *node.entries]

    def opendir(self, path) -> int:
        return self._call(
            {"op": "opendir", "path": path}, lambda: self.disk.open(self.disk.lookup(path))
        )

    def releasedir(self, path, fh) -> int:
        with self._mutex:
            self.disk.release(fh)
        return 0

    def fsyncdir(self, path, datasync, fh) -> int:
        node = self.disk.handles.get(fh)
        event = {"op": "fsyncdir", "path": self._path(path, fh)}
        self._call(event, lambda: node.sync() if isinstance(node, Dir) else _raise(errno.EBADF))
        return 0

    def open(self, path, flags) -> int:
        def action():
            node = self.disk.lookup(path)
            if flags & os.O_TRUNC and isinstance(node, File):
                node.truncate(0)
            return self.disk.open(node)

        fh = self._call({"op": "open", "path": path, "flags": flags}, action)
        self.paths[fh] = path
        return fh

    def create(self, path, mode, flags=0) -> int:
        fh = self._call(
            {"op": "create", "path": path}, lambda: self.disk.open(self.disk.create(path, mode))
        )
        self.paths[fh] = path
        return fh

    def read(self, path, size, offset, fh) -> bytes:
        event = {"op": "read", "path": self._path(path, fh), "offset": offset, "size": size}
        return self._call(event, lambda: self.disk.file(path, fh).read(offset, size))

    def write(self, path, data, offset, fh) -> int:
        event = {"op": "write", "path": self._path(path, fh), "offset": offset, "size": len(data)}
        return self._call(event, lambda: self.disk.file(path, fh).write(offset, data))

    def truncate(self, path, length, fh=None) -> int:
        event = {"op": "truncate", "path": self._path(path, fh), "length": length}
        self._call(event, lambda: self.disk.file(path, fh).truncate(length))
        return 0

    def fsync(self, path, datasync, fh) -> int:
        self._call(
            {"op": "fsync", "path": self._path(path, fh)}, lambda: self.disk.file(path, fh).sync()
        )
        return 0

    def flush(self, path, fh) -> int:
        return 0

    def release(self, path, fh) -> int:
        self.hook({"op": "release", "path": self._path(path, fh)})
        with self._mutex:
            self.disk.release(fh)
        self.paths.pop(fh, None)
        return 0

    def unlink(self, path) -> int:
        self._call({"op": "unlink", "path": path}, lambda: self.disk.unlink(path))
        return 0

    def mkdir(self, path, mode) -> int:
        self._call({"op": "mkdir", "path": path}, lambda: self.disk.mkdir(path, mode))
        return 0

    def rmdir(self, path) -> int:
        self._call({"op": "rmdir", "path": path}, lambda: self.disk.rmdir(path))
        return 0

    def rename(self, old, new) -> int:
        # mfusepy passes no rename flags: RENAME_NOREPLACE reaches here as a plain rename.
        self._call({"op": "rename", "path": old, "new": new}, lambda: self.disk.rename(old, new))
        return 0

    def chmod(self, path, mode) -> int:
        self._call({"op": "chmod", "path": path}, lambda: _set_mode(self.disk.lookup(path), mode))
        return 0

    def chown(self, path, uid, gid) -> int:
        return 0  # one owner: whoever mounted it

    def utimens(self, path, times=None) -> int:
        def action():
            node = self.disk.lookup(path)
            node.atime, node.mtime = times or (node.atime, node.mtime)

        self._call({"op": "utimens", "path": path}, action)
        return 0

    def power_loss(self) -> dict:
        """Drop everything not fsynced, and refuse every operation after."""
        with self._mutex:
            self.off = True
            return self.disk.power_loss()


def _raise(code: int) -> NoReturn:
    raise DiskError(code)


def _set_mode(node: Node, mode: int) -> None:
    node.mode = (node.mode & ~0o7777) | (mode & 0o7777)


def _attributes(node: Node) -> dict:
    """Return stat(2)'s fields for a node."""
    size = node.size if isinstance(node, File) else 4096
    return {
        "st_mode": node.mode,
        "st_nlink": _links(node),
        "st_size": size,
        "st_blocks": (size + 511) // 512,
        "st_uid": os.getuid(),
        "st_gid": os.getgid(),
        "st_atime": node.atime,
        "st_mtime": node.mtime,
        "st_ctime": node.ctime,
    }


def _links(node: Node) -> int:
    """Return a node's link count: a directory's . and its name, and each subfolder's .."""
    if not isinstance(node, Dir):
        return 1
    return 2 + sum(isinstance(n, Dir) for n in node.entries.values())


def unmount(mountpoint: str) -> None:
    """Unmount, lazily if something still holds it."""
    for args in (["-u"], ["-u", "-z"]):
        done = subprocess.run(["fusermount3", *args, mountpoint], capture_output=True)
        if done.returncode == 0:
            return


def _commands(ops: Interposer, mountpoint: str) -> None:
    """Obey stdin until it asks for a power loss or a stop, or closes; then unmount."""
    for line in sys.stdin:
        if line.strip() == "power-loss":
            print(f"lost {json.dumps(ops.power_loss())}", flush=True)
            break
        if line.strip() == "stop":
            break
    unmount(mountpoint)


def _tracer(path: Path) -> Hook:
    """Return a hook that writes each operation as a JSON line."""
    out = open(path, "a", buffering=1)  # noqa: SIM115 - open for the life of the mount
    lock = threading.Lock()

    def hook(event: dict) -> None:
        with lock:
            out.write(json.dumps(event) + "\n")

    return hook


def _hooks(*hooks: Hook | None) -> Hook | None:
    """Return one hook calling each given one in turn (None when none is given)."""
    given = [hook for hook in hooks if hook is not None]
    if not given:
        return None

    def hook(event: dict) -> None:
        for each in given:
            each(event)

    return hook


def main(argv: list[str] | None = None) -> int:
    """Mount FOLDER at MOUNTPOINT until told to stop; write what survived back into FOLDER."""
    parser = argparse.ArgumentParser(prog="python -m racelab.interpose.fs", description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("mountpoint")
    parser.add_argument("--trace", type=Path, help="write every operation as a JSON line here")
    parser.add_argument("--hold", help="ask racelab's hold socket before each pause point")
    args = parser.parse_args(argv)
    problem = fuse_problem()
    if problem:
        print(f"racelab.interpose.fs: {problem}", file=sys.stderr)
        return 2
    import mfusepy

    args.folder = args.folder.resolve()
    hook = _hooks(
        _tracer(args.trace) if args.trace else None,
        holder(args.hold, os.environ.get(SECRET_ENV, "")) if args.hold else None,
    )
    ops = Interposer(Disk.load(args.folder), args.folder, hook)
    threading.Thread(target=_commands, args=(ops, args.mountpoint), daemon=True).start()
    # Held operations need direct I/O: through the page cache, a read held at its point
    # keeps its page locked, and another request's open of the file (which drops the
    # file's cached pages) waits for it, so which request goes on would be the kernel's.
    # Through the cache a read may also never reach us at all: no point, no event.
    held = {"direct_io": True, "attr_timeout": 0, "entry_timeout": 0} if args.hold else {}
    mfusepy.FUSE(ops, args.mountpoint, foreground=True, fsname="racelab", **held)
    ops.disk.write_back(args.folder)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Files in folders the server's user owns, touched as root without being led astray.

The user PostgreSQL runs as owns its data dir: anything there may be a link it planted to
aim our writes, chowns or reads at a file of root's. These never follow one.
"""

import errno
import os
import stat
from pathlib import Path


def first_odd(tree: Path, strict: bool) -> str | None:
    """Describe the first entry under tree that is a link (strict: or not plainly ours)."""
    for folder, dirs, files in os.walk(tree):
        for name in dirs + files:
            path = os.path.join(folder, name)
            try:
                problem = odd(path, os.lstat(path), strict)
            except FileNotFoundError:
                continue  # gone since the folder was listed: nothing to follow
            if problem:
                return problem
    return None


def odd(path, info: os.stat_result, strict: bool) -> str | None:
    """Say what is wrong with an entry: a link (strict: or other than a plain one of ours)."""
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symbolic link"
    if not strict:
        return None
    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        return f"{path} is neither a plain file nor a folder"
    if stat.S_ISREG(info.st_mode) and info.st_nlink != 1:
        return f"{path} is a hard link (it has {info.st_nlink} names)"
    if info.st_uid != os.geteuid():
        return f"{path} is owned by uid {info.st_uid}, not by us (uid {os.geteuid()})"
    return None


def take_back(tree: Path) -> None:
    """Make a tree initdb wrote as the server's user ours, its top first to close it to them."""
    uid, gid = os.geteuid(), os.getegid()
    os.chown(tree, uid, gid, follow_symlinks=False)
    os.chmod(tree, 0o700)
    for folder, dirs, files in os.walk(tree):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def give_tree(tree: Path, uid: int, gid: int) -> None:
    """Hand a tree we made to uid:gid, its top last, never following a link."""
    for folder, dirs, files in os.walk(tree, topdown=False):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)
    os.chown(tree, uid, gid, follow_symlinks=False)


def open_log(path: Path) -> int:
    """Open the server's log to append to; refuse anything but a plain file with one name.

    The server's user owns the folder: a link there could aim our writes at any file.
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        raise OSError(errno.EPERM, "it is not a plain file with one name")
    return fd


def read_unlinked(path: Path, tail: int = 8192) -> str:
    """Return the last `tail` bytes of a file in the server's folder, never through a link."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        f.seek(max(0, os.fstat(fd).st_size - tail))
        return f.read(tail).decode(errors="replace")


def reason(error: OSError) -> str:
    """Say in words why an open, copy or rename of ours was refused."""
    if error.errno == errno.ELOOP:
        return "it is a symbolic link"
    if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
        return "it exists and is not an empty folder"
    return error.strerror or str(error)

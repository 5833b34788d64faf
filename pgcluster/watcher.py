"""Run a private postmaster and take it down when the process that asked for it goes.

Run as a script by pgcluster (standard library only, so it needs no import path):

    python -I watcher.py PGID UID GID -- POSTGRES COMMAND...

It makes the server's socket folder (owned by UID:GID unless UID is -1), starts the
command in process group PGID with that folder as its socket directory, and prints the
folder's path on one line. Then it waits for one of: the server exits; "fast" on stdin (a
clean stop: a fast shutdown); end of stdin or a new parent (whoever started it died, by any
signal: an immediate shutdown, as `pg_ctl stop -m immediate` makes). Whatever ended it, the
socket folder is removed. It lives in its own process group, so a fault that kills the
server's group kills the postmaster (as a power loss would) and leaves the watcher to tidy up.
"""

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile

STOP_TIMEOUT_S = 30.0
POLL_S = 0.1  # how soon a dead parent is noticed when another process holds the pipe


class Terminated(Exception):
    """The watcher itself was asked to stop (SIGTERM)."""


def main(argv: list[str]) -> int:
    """Start the server, watch, stop it, remove its socket folder; return its exit status."""
    os.setpgid(0, 0)  # out of the server's group: a kill of that group must leave us
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # a terminal's Ctrl-C is the parent's to act on
    signal.signal(signal.SIGTERM, _terminated)
    pgid, uid, gid = (int(a) for a in argv[1:4])
    command = argv[5:]
    parent = os.getppid()
    socket_dir = tempfile.mkdtemp(prefix="racelab-pg-")
    try:
        if uid >= 0:
            os.chown(socket_dir, uid, gid)
        server = _spawn(command, socket_dir, pgid)
        print(socket_dir, flush=True)
        _stop(server, _watch(server, parent))
        return server.returncode or 0
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)


def _terminated(signum, frame):
    raise Terminated


def _spawn(command: list[str], socket_dir: str, pgid: int) -> subprocess.Popen:
    """Start the server in the parent's process group (single-threaded here: preexec is safe)."""
    return subprocess.Popen(
        [*command, "-c", f"unix_socket_directories={socket_dir}"],
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr,
        stderr=sys.stderr,
        preexec_fn=lambda: os.setpgid(0, pgid),  # noqa: PLW1509
    )


def _watch(server: subprocess.Popen, parent: int) -> str | None:
    """Wait for a reason to stop; return "fast", "immediate", or None when the server exited."""
    try:
        while server.poll() is None:
            if os.getppid() != parent:
                return "immediate"
            ready, _, _ = select.select([0], [], [], POLL_S)
            if ready:
                return "fast" if os.read(0, 16).startswith(b"fast") else "immediate"
        return None
    except Terminated:
        return "fast"


def _stop(server: subprocess.Popen, how: str | None) -> None:
    """Shut the server down the way asked; kill it if it takes too long."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # mid-shutdown, finish the job
    if how is None or server.poll() is not None:
        return
    server.send_signal(signal.SIGINT if how == "fast" else signal.SIGQUIT)
    try:
        server.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""A private PostgreSQL server in a folder: find the binaries, initdb, start, stop.

Neither the servers' code nor the checker's: both use it, the server to serve a store and
the checker to read one whose server has stopped. The server listens on a Unix socket
only (no TCP port to collide or to expose), in a short directory under /tmp, because a
socket path may not exceed 107 bytes.

Run as root, the server runs as the `postgres` user, who owns its data dir: racelab never
follows a link in there (it opens what it must with O_NOFOLLOW and refuses a data dir that
holds links), keeps the template it copies clusters from owned by root, and leaves the
server under a watcher (watcher.py) that stops it and removes its socket folder however
racelab ends. docs/security.md says why.
"""

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pgcluster import safefs
from racelab.exceptions import RunFailed

DATABASE = "postgres"
ROLE = "racelab"
PORT = 5432  # only names the socket file: .s.PGSQL.5432 in the socket directory
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
WATCHER = Path(__file__).with_name("watcher.py")
LOG_TAIL_BYTES = 65536
# Enough for 4 gunicorn workers' pools under a 50-VU load, with room for the checker.
SERVER_SETTINGS = {"max_connections": "300", "listen_addresses": ""}
INSTALL_HINT = (
    "no PostgreSQL server binaries (initdb, postgres) were found; install them "
    "(apt-get install postgresql), set RACELAB_PG_BINDIR, or pass --database-url"
)


class ClusterError(RunFailed):
    """A private PostgreSQL server could not be set up, started or stopped; says why."""


class NoPostgres(ClusterError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path | None:
    """Return the folder holding initdb and postgres, or None when there is none."""
    if os.environ.get("RACELAB_PG_BINDIR"):  # the user's choice, and only it
        candidates = [os.environ["RACELAB_PG_BINDIR"]]
        return _with_server_binaries(candidates)
    candidates = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
        candidates.append(out.stdout.strip())
    # Debian and Ubuntu keep the server binaries out of PATH, one folder per version.
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=_version_numbers, reverse=True)
    initdb = shutil.which("initdb")
    candidates.append(str(Path(initdb).resolve().parent) if initdb else "")
    return _with_server_binaries(candidates)


def _version_numbers(path: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", path)]


def _with_server_binaries(candidates) -> Path | None:
    for folder in filter(None, candidates):
        if all((Path(folder) / name).is_file() for name in ("initdb", "postgres")):
            return Path(folder)
    return None


def server_user() -> str | None:
    """Return the unprivileged user to run the server as when we are root, else None.

    PostgreSQL refuses to run as root.
    """
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ClusterError("running as root, and there is no postgres or nobody user to run as")


def as_server_user(command: list[str]) -> list[str]:
    """Return command run as the server's user (unchanged unless we are root).

    The user keeps one capability, reading through folders it does not own, so a data dir
    under root's private temporary folders (pytest's, say) stays reachable.
    """
    user = server_user()
    if user is None:
        return command
    return [
        "setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
        "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", *command,
    ]  # fmt: skip


def _server_ids() -> tuple[int, int]:
    """Return the server user's uid and gid, or (-1, -1) when the server runs as us."""
    user = server_user()
    if user is None:
        return -1, -1
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _give_to_server_user(path: Path) -> None:
    uid, gid = _server_ids()
    if uid >= 0:
        os.chown(path, uid, gid, follow_symlinks=False)


def conninfo(socket_dir, dbname: str = DATABASE) -> str:
    """Return a libpq URL for a server on a Unix socket (what `database.url` holds)."""
    return f"postgresql://{ROLE}@/{dbname}?host={socket_dir}&port={PORT}"


def running_socket_dir(pgdata) -> str | None:
    """Return the socket folder of a live, ready server on pgdata, or None."""
    try:
        lines = safefs.read_unlinked(Path(pgdata) / "postmaster.pid").splitlines()
        pid, socket_dir, status = int(lines[0]), lines[4], lines[7].strip()
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return socket_dir if status == "ready" else None


class Cluster:
    """A PostgreSQL data directory, and the server this process runs on it."""

    def __init__(self, pgdata, bindir: Path | None = None):
        self.pgdata = Path(pgdata)
        found = bindir or find_bindir()
        if found is None:
            raise NoPostgres(INSTALL_HINT)
        self.bindir: Path = found
        self.process: subprocess.Popen | None = None
        self.socket_dir: str | None = None
        self.owner_pid = os.getpid()

    def exists(self) -> bool:
        """Say whether pgdata holds a cluster."""
        return (self.pgdata / "PG_VERSION").is_file()

    def init(self) -> None:
        """Create the cluster (the role racelab, trust over the socket only).

        From a copy of a cluster initdb made once per machine when one can be kept: a copy
        takes a tenth of initdb's 1.5 s, and every compare target and step permutation
        makes a new cluster.
        """
        template = template_cluster(self.bindir)
        if template is None:
            initdb(self.bindir, self.pgdata)
            return
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        # Copied and handed over out of the server user's reach, then moved in whole: it
        # cannot plant a link for a chown to follow, nor meet a half-made cluster.
        staging = Path(tempfile.mkdtemp(prefix=".racelab-pgdata-", dir=self.pgdata.parent))
        try:
            shutil.copytree(template, staging / "pgdata", symlinks=True)
            uid, gid = _server_ids()
            if uid >= 0:
                safefs.give_tree(staging / "pgdata", uid, gid)
            os.rename(staging / "pgdata", self.pgdata)
        except OSError as e:
            raise ClusterError(
                f"cannot make a cluster in {self.pgdata}: {safefs.reason(e)}"
            ) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def start(self) -> str:
        """Start the server under a watcher; return its connection string.

        The postmaster joins this process group, so a fault that kills the group kills the
        database too, as a machine that loses power would. The watcher is in a group of its
        own: it stops the server if this process dies any other way, and removes the
        server's socket folder however the server ended.
        """
        self._wait_for_an_earlier_server()
        refuse_links(self.pgdata, "data dir")
        log = _open_log(self.pgdata / "server.log")
        try:
            self.process = process = subprocess.Popen(
                self._watcher_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=log, bufsize=0,
            )  # fmt: skip
        finally:
            os.close(log)
        assert process.stdout is not None  # a pipe, asked for above
        with process.stdout:
            self.socket_dir = process.stdout.readline().decode().strip() or None
        if self.socket_dir is None:
            self.stop()
            raise ClusterError(f"postgres could not be started: {self.log_tail()}")
        self._wait_until_ready(process)
        return conninfo(self.socket_dir)

    def _watcher_command(self) -> list[str]:
        command = [str(self.bindir / "postgres"), "-D", str(self.pgdata), "-p", str(PORT)]
        for key, value in SERVER_SETTINGS.items():
            command += ["-c", f"{key}={value}"]
        uid, gid = _server_ids()
        ids = [str(os.getpgrp()), str(uid), str(gid)]
        return [sys.executable, "-I", str(WATCHER), *ids, "--", *as_server_user(command)]

    def _wait_for_an_earlier_server(self) -> None:
        """Wait for a killed server on pgdata to be gone; refuse one that is still serving.

        A restart right after a kill finds the killed postmaster still exiting (or a zombie
        nobody has reaped), and PostgreSQL would refuse to start beside it.
        """
        pid = _postmaster_pid(self.pgdata)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while pid is not None and _alive(pid):
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"another PostgreSQL server (pid {pid}) runs on {self.pgdata}; stop it first"
                )
            time.sleep(0.05)
        if pid is not None and _zombie(pid):
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def _wait_until_ready(self, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if running_socket_dir(self.pgdata) == self.socket_dir:
                return
            if process.poll() is not None:
                self.stop()
                raise ClusterError(f"postgres exited at start: {self.log_tail()}")
            time.sleep(0.02)
        self.stop()
        raise ClusterError(f"postgres was not ready within {START_TIMEOUT_S:g} s")

    def stop(self) -> None:
        """Stop the server this process started (a fast shutdown: clients are cut off)."""
        process = self.process
        if process is None or os.getpid() != self.owner_pid:
            return  # a forked worker inherits the object, never the duty
        assert process.stdin is not None  # a pipe, asked for at start
        with contextlib.suppress(OSError):  # a watcher that has gone no longer reads
            process.stdin.write(b"fast")
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(STOP_TIMEOUT_S + 5)  # the watcher kills a server that overruns
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.process = None
        if self.socket_dir:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def log_tail(self) -> str:
        """Return the last line the server logged."""
        with contextlib.suppress(OSError):
            return _last_line(safefs.read_unlinked(self.pgdata / "server.log", LOG_TAIL_BYTES))
        return "(no log)"


def initdb(bindir: Path, pgdata: Path) -> None:
    """Run initdb into pgdata as the server's user, or raise ClusterError saying why not."""
    pgdata.mkdir(parents=True, exist_ok=True)
    _give_to_server_user(pgdata)
    command = [
        str(bindir / "initdb"), "-D", str(pgdata), "-U", ROLE, "--auth=trust",
        "-E", "UTF8", "--locale=C", "--no-instructions",
    ]  # fmt: skip
    result = subprocess.run(as_server_user(command), capture_output=True, text=True)
    if result.returncode != 0:
        raise ClusterError(f"initdb failed in {pgdata}: {_last_line(result.stderr)}")


def template_cluster(bindir: Path) -> Path | None:
    """Return this machine's pristine cluster for bindir's version, made once; None if it
    cannot be kept (no writable cache folder).

    It is ours (root's, run as root) and holds only plain files and folders: every cluster
    is copied from it and handed to the server's user, so a link in it would hand over
    whatever the link names.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "racelab"
    version = ".".join(map(str, _version_numbers(str(bindir)))) or "local"
    name = f"pgdata-{version}-{server_user() or 'self'}"
    # Older racelabs left the template to the server's user, who could have planted links.
    shutil.rmtree(cache / name, ignore_errors=True)
    template = cache / f"{name}-v2"
    if not (template / "PG_VERSION").is_file():
        _build_template(bindir, template)
    if not (template / "PG_VERSION").is_file():
        return None
    check_template(template)
    return template


def _build_template(bindir: Path, template: Path) -> None:
    """Make the template with initdb, then make it ours before it takes its name."""
    building = template.with_name(f"{template.name}.{os.getpid()}.building")
    try:
        initdb(bindir, building)
        safefs.take_back(building)
        building.rename(template)  # atomic: a concurrent builder's copy wins, equally good
    except OSError:
        pass  # no template, then: each cluster is made by initdb
    finally:
        shutil.rmtree(building, ignore_errors=True)


def check_template(template: Path) -> None:
    """Refuse a template that is not all ours, or holds anything but plain files and folders."""
    problem = safefs.odd(template, os.lstat(template), True) or safefs.first_odd(template, True)
    if problem:
        raise ClusterError(
            f"refusing the template cluster {template}: {problem}; "
            "remove it and racelab will make a new one"
        )


def refuse_links(tree: Path, what: str) -> None:
    """Raise ClusterError naming the first symbolic link in tree, a folder of the server's."""
    problem = safefs.first_odd(tree, strict=False)
    if problem:
        raise ClusterError(f"refusing the {what} {tree}: {problem}")


def _open_log(path: Path) -> int:
    """Open the server's log to append to, refusing a link or a file with other names."""
    try:
        return safefs.open_log(path)
    except OSError as e:
        raise ClusterError(f"refusing the server log {path}: {safefs.reason(e)}") from None


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int(safefs.read_unlinked(pgdata / "postmaster.pid").split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _alive(pid: int) -> bool:
    """Say whether pid is a live process (a zombie has exited: it only awaits reaping)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(nothing printed)"


@contextlib.contextmanager
def attached(pgdata):
    """Yield a connection string to the server on pgdata; start one for the while if none runs."""
    socket_dir = running_socket_dir(pgdata)
    if socket_dir is not None:
        yield conninfo(socket_dir)
        return
    cluster = Cluster(pgdata)
    try:
        yield cluster.start()
    finally:
        cluster.stop()

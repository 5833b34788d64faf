"""An external server's own I/O as `racelab step`'s pause points: its SQL and its files.

`Interposition` sets up what an external COMMAND asks for and gives the values of its
placeholders: `{database_url}` is a PgProxy URL in front of a private PostgreSQL (started
once, for every permutation), and with files on, `{data_dir}` is a FUSE mount over a real
folder whose operations are asked about through a HoldChannel. Both turn each event into
a pause of the session it is attributed to, by one `Attribution` (docs/contract.md,
"SQL interposition" and "File interposition"). `reset()` empties both between permutations.
"""

import contextlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import pgcluster
from racelab.compare.process import TargetFailed
from racelab.interpose.holds import HoldChannel
from racelab.interpose.mount import Mount, MountFailed, fuse_problem
from racelab.interpose.pgattribution import Attribution, Event, PauseAdapter, Unattributed
from racelab.interpose.pglocks import APPLICATION, LOCK, LockWatch
from servers.stepping import FREE_PROTOCOL, WAIT_PROTOCOL, ask

if TYPE_CHECKING:
    from racelab.interpose.pgproxy import PgProxy

SQL_PLACEHOLDER = "{database_url}"
RESET_TIMEOUT_S = 20
# Other clients of the database, a killed run's leftover transaction among them, are cut
# before its tables go: a reset never waits on a lock nobody will release.
RESET_SQL = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    f" AND backend_type = 'client backend' AND application_name <> '{APPLICATION}'",
    "DROP SCHEMA IF EXISTS public CASCADE",
    "CREATE SCHEMA public",
)


class _Shown(TypedDict):
    step: str  # "A.select", or "?.select" when no one session could be named
    text: str  # the SQL, or the file operation's op and path


class ShownEvent(_Shown, total=False):
    """A statement or file operation as a step's outcome lists it."""

    unattributed: list[str]  # the sessions running when it came: any could have sent it


def wants_sql(command: str) -> bool:
    """Say whether an external command takes a database URL."""
    return SQL_PLACEHOLDER in command


def check_files() -> None:
    """Raise TargetFailed, saying what to install, when FUSE cannot be used here."""
    problem = fuse_problem()
    if problem:
        raise TargetFailed(f"file points need FUSE: {problem}")


class Interposition:
    """The SQL proxy and the FUSE mount one external target is stepped through."""

    def __init__(self, scheduler, work: Path, sql: bool, files: bool) -> None:
        self.scheduler, self.work = scheduler, work
        self.attribution = Attribution()
        self.adapter = PauseAdapter(self._pause, self.attribution)
        self.sql, self.files = sql, files
        self.conninfo: str | None = None
        self.proxy: PgProxy | None = None
        self.locks: LockWatch | None = None
        self.mount: Mount | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "Interposition":
        try:
            if self.sql:
                self._start_sql()
            if self.files:
                self._start_files()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def _pause(self, session: str, point: str) -> None:
        ask((self.scheduler.path, self.scheduler.secret), session, point)

    def _notice(self, kind: str, session: str) -> None:
        protocol = WAIT_PROTOCOL if kind == "WAIT" else FREE_PROTOCOL
        ask((self.scheduler.path, self.scheduler.secret), session, LOCK, protocol)

    def _on_statement(self, conn_id: int, keyword: str, sql: str) -> None:
        """Pause a stepped session's statement; once released, watch it for a lock wait."""
        event = self.adapter.on_statement(conn_id, keyword, sql)
        backend_pid = self.proxy.backend_pid(conn_id) if self.proxy is not None else None
        if isinstance(event.session, str) and backend_pid is not None and self.locks:
            self.locks.watch(event.session, event, backend_pid)

    def _on_done(self, conn_id: int, status: str) -> None:
        self.adapter.on_done(conn_id, status)
        if status == "I" and self.locks is not None:
            self.locks.idle()

    def _start_sql(self) -> None:
        import psycopg

        from racelab.interpose.pgproxy import PgProxy, upstream_address

        try:
            cluster = pgcluster.Cluster(self.work / "pgdata")
            cluster.init()
            self.conninfo = cluster.start()
        except pgcluster.ClusterError as e:
            raise TargetFailed(f"{{database_url}} needs PostgreSQL: {e}") from None
        self._stack.callback(cluster.stop)
        try:
            self.locks = LockWatch(self.conninfo, self._notice)
        except psycopg.Error as e:
            raise TargetFailed(f"cannot connect to the private PostgreSQL: {e}") from None
        self._stack.callback(self.locks.close)
        proxy = PgProxy(upstream_address(self.conninfo), self._on_statement, self._on_done)
        self._stack.callback(proxy.close)
        self.proxy = proxy

    def _start_files(self) -> None:
        check_files()
        channel = HoldChannel(lambda point, text: self.adapter.on_statement(None, point, text))
        self._stack.callback(channel.close)
        folder = self.work / "files"
        folder.mkdir()
        self.mount = Mount(folder, self.work / "mount.log", hold=(channel.path, channel.secret))
        try:
            self.mount.start()
        except MountFailed as e:
            raise TargetFailed(f"file points: {e}") from None
        self._stack.callback(self.mount.close)

    def values(self) -> dict:
        """Return the placeholders this interposition fills: database_url, data_dir."""
        values: dict[str, object] = {}
        if self.proxy is not None:  # its password goes in env(): any user may read a command
            values["database_url"] = self.proxy.url(str(self.conninfo), with_password=False)
        if self.mount is not None:
            values["data_dir"] = self.mount.dir
        return values

    def env(self) -> dict:
        """Return the environment the server needs: the proxy's password, in PGPASSWORD
        (libpq's, node-postgres's and most drivers' default when the URL has none)."""
        return {"PGPASSWORD": self.proxy.password} if self.proxy is not None else {}

    def reset(self) -> None:
        """Empty the database's tables and the mounted folder (the server is stopped)."""
        if self.conninfo is not None:
            self._empty_database()
        if self.mount is not None:
            try:
                for child in self.mount.dir.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            except OSError as e:
                raise TargetFailed(f"cannot empty the mounted data dir: {e}") from None
        self.attribution.forget_running()

    def _empty_database(self) -> None:
        """Drop every table, bounded in time: a reset never hangs on a lock."""
        import psycopg

        bound = f"-c statement_timeout={RESET_TIMEOUT_S}s"
        try:
            with psycopg.connect(str(self.conninfo), autocommit=True,
                                 connect_timeout=RESET_TIMEOUT_S, options=bound) as db:  # fmt: skip
                for sql in RESET_SQL:
                    db.execute(sql)
        except psycopg.Error as e:
            raise TargetFailed(f"cannot empty the database: {e}") from None

    def mark(self) -> int:
        """Return a mark from which `events_since` lists what happened."""
        return len(self.adapter.events)

    def events_since(self, mark: int) -> list[ShownEvent]:
        """Return the stepped sessions' events after mark, in the order they went on to the
        server or the file (not the order they arrived in), as step and text."""
        return [_shown(e) for e in self.adapter.in_order_run(mark) if e.session is not None]


def _shown(event: Event) -> ShownEvent:
    """Return {"step": "A.select", "text": SQL}, or for an unattributed event step "?.select"
    and the sessions that could have sent it."""
    if isinstance(event.session, Unattributed):
        running = list(event.session.running)
        return {"step": f"?.{event.keyword}", "text": event.sql, "unattributed": running}
    return {"step": f"{event.session}.{event.keyword}", "text": event.sql}

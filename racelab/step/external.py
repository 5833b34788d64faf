"""`racelab step --external 'NAME=COMMAND'`: step a server racelab did not write.

The server pauses at points its own code names, through the pause protocol
(docs/contract.md; examples/pause has a helper for Python and one for Node), and at its own
I/O (racelab/interpose/stepped.py): each SQL statement when COMMAND takes {database_url},
each file operation in {data_dir} when file points are asked for. It is started from
COMMAND with {port}, {data_dir}, {skus}, {stock} (and {database_url}) filled in, and the
scheduler's socket and secret in RACELAB_STEP_SOCKET and RACELAB_STEP_SECRET (not with file
points: there `read` and `write` are the file's). The reset rule: racelab cannot reseed a
store whose format it does not know, so before each permutation the server is stopped, its
data dir emptied and its database's tables dropped (through racelab's own connection), and
it is started again. Its state is read through the API.

An SQL statement or a file operation says nothing of which request made it, so it is
attributed to the one session running (racelab/interpose/pgattribution.py): stepped at its
I/O, a server's sessions start one at a time, each once the one before is at its first
point or done (or START_WAIT_S passed: then what the two do is reported unattributed).

`ExternalStepper` is the seam for anything that runs schedules on an external target.
"""

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from racelab.compare.external import ExternalTarget, free_port
from racelab.compare.process import TargetFailed, spawn, stop_server, wait_for_health
from racelab.interpose.pgattribution import Attribution
from racelab.interpose.stepped import Interposition, wants_sql
from racelab.process_exit import finishing
from racelab.step.client import Client
from racelab.step.runner import (
    PERMUTATION_LIMIT_S,
    Answer,
    Outcome,
    Run,
    Target,
    _drive,
    checked,
    send_setup,
    session_loop,
)
from racelab.step.scheduler import BLOCK_WAIT_S, Scheduler
from racelab.step.spec import Permutation, Spec

NEVER_REACHED = "never reached"
START_WAIT_S = 30.0  # generous: a slow machine's first request may take long to its point


def run_external(target: ExternalTarget, runs: list[Run], block_wait: float = BLOCK_WAIT_S,
                 files: bool = False) -> list[Outcome]:  # fmt: skip
    """Run (spec, permutation) pairs in order, each on the server started afresh; mark the
    steps whose point the server reached in none of them."""
    outcomes: list[Outcome] = []
    reached: list[str] = []
    with ExternalStepper(target, block_wait, files) as stepper:
        for spec, permutation in runs:
            outcomes.append(stepper.run(spec, permutation))
            reached += [point for points in stepper.reached().values() for point in points]
    points = list(dict.fromkeys(reached))
    for outcome, (_, permutation) in zip(outcomes, runs, strict=True):
        _mark_never_reached(outcome, permutation, points)
    return outcomes


class ExternalStepper:
    """A server of yours stepped one permutation at a time: the seam for anything that runs
    schedules on an external target (racelab step, racelab explore).

        with ExternalStepper(target, block_wait, files=True) as stepper:
            outcome = stepper.run(spec, permutation)  # started afresh on an emptied store
            stepper.reached()  # {session: [every point it arrived at]} in that run

    Its points: the pause protocol's, each SQL statement when the command takes
    {database_url}, and with files each file operation in {data_dir} (FUSE). The Outcome's
    `events` list the statements and operations. TargetFailed is one line for the user: a
    command that does not start, no PostgreSQL, no FUSE.
    """

    def __init__(self, target: ExternalTarget, block_wait: float = BLOCK_WAIT_S,
                 files: bool = False) -> None:  # fmt: skip
        self.target, self.block_wait, self.files = target, block_wait, files
        self._stack = contextlib.ExitStack()
        self.io: Interposition | None = None

    def __enter__(self) -> "ExternalStepper":
        try:
            self.work = Path(tempfile.mkdtemp(prefix="racelab-step-"))
            self._stack.callback(shutil.rmtree, self.work, ignore_errors=True)
            self.scheduler = Scheduler({}, self.block_wait)
            self._stack.callback(self.scheduler.close)
            self.io = _interposition(self.target, self.scheduler, self.work, self.files)
            if self.io is not None:
                self._stack.enter_context(self.io)
                self._stack.callback(self.scheduler.release_all)  # first: a held one lets go
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, spec: Spec, permutation: Permutation) -> Outcome:
        """Start the server on an emptied store, run one permutation, stop it."""
        return _run_one(self.target, self.scheduler, self.work, spec, permutation, [], self.io)

    def reached(self) -> dict[str, list[str]]:
        """Return every point each session arrived at in the last run, in order."""
        return {name: list(lane.reached) for name, lane in self.scheduler.lanes.items()}

    def close(self) -> None:
        """Stop whatever was started (the scheduler first), however the run ends."""
        with finishing():
            self._stack.close()


def _interposition(target: ExternalTarget, scheduler: Scheduler, work: Path,
                   files: bool) -> Interposition | None:  # fmt: skip
    """Return the interposition the command asks for, not yet started, or None."""
    sql = wants_sql(target.command or "")  # a target with no command is never started here
    return Interposition(scheduler, work, sql, files) if sql or files else None


def _run_one(target: ExternalTarget, scheduler: Scheduler, work: Path, spec: Spec,
             permutation: Permutation, reached: list[str],
             io: Interposition | None = None) -> Outcome:  # fmt: skip
    """Start the server on an empty store, run one permutation, stop it; add the points
    its sessions arrived at to reached."""
    lanes = {s.name: [p for n, p in permutation if n == s.name] for s in spec.sessions}
    if io is not None:
        io.reset()
    with started(target, scheduler, work, spec, io) as url:
        scheduler.begin(lanes)
        if io is None:
            outcome = _drive(spec, target, permutation, scheduler, url, None)
        else:
            outcome = drive_one_at_a_time(spec, permutation, scheduler, url, io)
        reached += [point for lane in scheduler.lanes.values() for point in lane.reached]
    return outcome


class _Ending:
    """What session_loop tells the scheduler, said to the attribution first: a session
    whose requests have all been answered runs no more."""

    def __init__(self, scheduler: Scheduler, attribution: Attribution) -> None:
        self.scheduler, self.attribution = scheduler, attribution

    def session_done(self, name: str) -> None:
        """Note that every request of a session has its answer."""
        self.attribution.stopped(name)
        self.scheduler.session_done(name)


def drive_one_at_a_time(spec: Spec, permutation: Permutation, scheduler: Scheduler, url: str,
                        io: Interposition) -> Outcome:  # fmt: skip
    """Run one permutation (the scheduler has its lanes) and check what the server stored;
    the outcome's events are the SQL and file operations its sessions made."""
    clock, mark = time.perf_counter(), io.mark()
    ids: dict[str, int] = {}
    records = send_setup(url, spec, ids)
    clients = {s.name: Client(url, s.name) for s in spec.sessions}
    answers: list[Answer] = []
    ending = _Ending(scheduler, io.attribution)
    try:
        for vu, session in enumerate(spec.sessions):
            io.attribution.running(session.name)
            args = (clients[session.name], session, vu, ids, answers, records, clock, ending)
            threading.Thread(target=session_loop, args=args, daemon=True).start()
            _wait_first_point(scheduler, session.name)
        steps = scheduler.run(permutation, PERMUTATION_LIMIT_S)
        finished = scheduler.wait_done(PERMUTATION_LIMIT_S)
    finally:
        for client in clients.values():
            client.close()
    position = {s.name: i for i, s in enumerate(spec.sessions)}
    answers.sort(key=lambda answer: position[answer.session])
    report = checked(spec, url, None, records)
    outcome = Outcome(steps, answers, report.verdict.value, report.anomalies, {}, finished)
    outcome.events = io.events_since(mark)
    return outcome


def _wait_first_point(scheduler: Scheduler, name: str) -> None:
    """Wait until a session is held at its first point or done (bounded)."""
    lane = scheduler.lanes[name]
    with scheduler.changed:
        scheduler.changed.wait_for(lambda: lane.held is not None or lane.done, START_WAIT_S)


@contextlib.contextmanager
def started(target: ExternalTarget, scheduler: Scheduler, work: Path, spec: Spec,
            io: Interposition | None = None) -> Iterator[str]:  # fmt: skip
    """Start COMMAND on an emptied data dir, check it holds the spec's setup; yield its URL."""
    data_dir = work / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir()
    port = free_port()
    values = {"port": port, "data_dir": data_dir, "skus": spec.skus, "stock": spec.stock}
    values |= io.values() if io is not None else {}
    env = os.environ | (io.env() if io is not None else {})
    if io is None or not io.files:  # with file points, `read` and `write` are the file's
        env |= {"RACELAB_STEP_SOCKET": scheduler.path, "RACELAB_STEP_SECRET": scheduler.secret}
    process = _spawn(target, values, env, work / "server.log")
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_health(url, process)
        except TargetFailed as e:
            raise TargetFailed(f"{target.name} did not start: {e}{_last_line(work)}") from None
        _check_setup(target, url, spec)
        yield url
    finally:
        stop_server(process)


def _spawn(target: ExternalTarget, values: dict, env: dict, log_path: Path) -> subprocess.Popen:
    """Start the command with the placeholders filled, in a process group of its own."""
    words = [_filled(word, values) for word in shlex.split(target.command)]
    with open(log_path, "w") as log:
        try:
            return spawn(
                words, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,
            )  # fmt: skip
        except OSError as e:
            raise TargetFailed(f"{target.name}: cannot start {words[0]!r}: {e.strerror}") from None


def _filled(word: str, values: dict) -> str:
    for key, value in values.items():
        word = word.replace("{" + key + "}", str(value))
    return word


def _last_line(work: Path) -> str:
    """Return '; its last line: ...' from the server's log, or '' if it printed nothing."""
    try:
        lines = (work / "server.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f"; its last line: {lines[-1].strip()[:200]}" if lines else ""


def _check_setup(target: ExternalTarget, url: str, spec: Spec) -> None:
    """Refuse a server that does not start with the spec's items: its history would lie."""
    want = {f"sku-{n}": spec.stock for n in range(1, spec.skus + 1)}
    try:
        with urllib.request.urlopen(f"{url}/items", timeout=10) as response:
            have = {i["sku"]: i["stock"] for i in json.loads(response.read(1 << 20))["items"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TargetFailed(f"{target.name}: GET /items did not answer the contract ({e})") from None
    if have != want:
        raise TargetFailed(
            f"{target.name} started with {len(have)} items, not the spec's setup of {spec.skus} "
            f"at {spec.stock}: give the command {{skus}} and {{stock}}"
        )


def _mark_never_reached(outcome: Outcome, permutation: Permutation, points: list[str]) -> None:
    """Say of each step whose point the server never arrived at which points it did.

    Only a point no session reached in any permutation: a step skipped because its request
    ended first (a 409 before the write) is skipped, as on a built-in target."""
    for (_, point), log in zip(permutation, outcome.steps, strict=False):
        if log.outcome in ("skipped", "not reached") and point not in points:
            log.outcome = f"{NEVER_REACHED}; the server reached {', '.join(points) or 'no point'}"


class MatrixCell(Protocol):
    """What never_reached reads of a matrix's cell (racelab.step.run.Cell, whose module
    imports this one)."""

    target: Target
    runs: list[Outcome]


def never_reached(rows: Iterable[Iterable[MatrixCell]]) -> list[str]:
    """Return 'A.lock on NAME never reached; the server reached read, write' for every such
    step in a matrix."""
    found = []
    for row in rows:
        for cell in row:
            for run in cell.runs:
                for log in run.steps:
                    if log.outcome.startswith(NEVER_REACHED):
                        found.append(f"{log.step} on {cell.target.name} {log.outcome}")
    return list(dict.fromkeys(found))

"""Run one schedule at a time on a stepped server, each from a fresh store, and say which
points each session reached.

Built on the step runner: a racelab target is one `racelab serve --step` whose store is
reseeded before each schedule (a new server only after a schedule left a session
unfinished); a server of yours is started afresh on an emptied data dir for each, by
`racelab step --external`'s own code, so whatever points that code gives it (its pause
protocol, its SQL statements, its file operations) reach explore unchanged.
"""

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from racelab.process_exit import finishing
from racelab.step import external
from racelab.step.runner import Outcome, stepped_server
from racelab.step.scheduler import Scheduler
from racelab.step.spec import Spec


@dataclass
class Run:
    """One schedule's outcome, and every point each session arrived at, in order."""

    outcome: Outcome
    reached: dict[str, list[str]]


def _reached(scheduler: Scheduler) -> dict[str, list[str]]:
    return {name: list(lane.reached) for name, lane in scheduler.lanes.items()}


class BuiltinDriver:
    """Schedules on one `racelab serve --step`, its store reseeded before each."""

    def __init__(self, target, block_wait: float):
        self.target, self.block_wait = target, block_wait
        self.stack: contextlib.ExitStack | None = None
        self.server = None

    def run(self, spec: Spec, permutation: list[tuple]) -> Run:
        """Run one schedule; start a server first if there is none or it was left spoiled."""
        if self.server is None or self.server.spoiled:
            self.close()
            self.stack = contextlib.ExitStack()
            self.server = self.stack.enter_context(stepped_server(self.target, self.block_wait))
        outcome = self.server.run(spec, permutation)
        return Run(outcome, _reached(self.server.scheduler))

    def close(self) -> None:
        """Stop the server, if one runs."""
        if self.stack is not None:
            self.stack.close()
        self.stack, self.server = None, None


class ExternalDriver:
    """Schedules on a server of yours, started from its command afresh for each."""

    def __init__(self, target, block_wait: float):
        self.target = target
        self.work = Path(tempfile.mkdtemp(prefix="racelab-explore-"))
        self.scheduler = Scheduler({}, block_wait)

    def run(self, spec: Spec, permutation: list[tuple]) -> Run:
        """Start the server on an emptied data dir, run one schedule, stop it."""
        # racelab step's own loop, one schedule at a time; its scheduler's lanes stay readable.
        outcome = external._run_one(self.target, self.scheduler, self.work, spec, permutation, [])
        return Run(outcome, _reached(self.scheduler))

    def close(self) -> None:
        """Stop listening for pauses and remove the work folder."""
        with finishing():
            self.scheduler.close()
            shutil.rmtree(self.work, ignore_errors=True)


@contextlib.contextmanager
def driver(target, block_wait: float):
    """Yield the driver for target, and stop what it started however the run ends."""
    chosen = (ExternalDriver if target.backend == "external" else BuiltinDriver)(target, block_wait)
    try:
        yield chosen
    finally:
        with finishing():
            chosen.close()

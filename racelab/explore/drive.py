"""Run one schedule at a time on a stepped server, each from a fresh store, and say which
points each session reached.

Built on the step runner: a racelab target is one `racelab serve --step` whose store is
reseeded before each schedule (a new server only after a schedule left a session
unfinished); a server of yours is started afresh on an emptied store for each, by
`racelab step --external`'s own code, so whatever points that code gives it (its pause
protocol, its SQL statements, its file operations) reach explore unchanged.
"""

import contextlib
from dataclasses import dataclass

from racelab.process_exit import finishing
from racelab.step.external import ExternalStepper
from racelab.step.runner import Outcome, StepServer, stepped_server
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
        self.server: StepServer | None = None

    def run(self, spec: Spec, permutation: list[tuple]) -> Run:
        """Run one schedule; start a server first if there is none or it was left spoiled."""
        server = self.server
        if server is None or server.spoiled:
            self.close()
            self.stack = contextlib.ExitStack()
            server = self.stack.enter_context(stepped_server(self.target, self.block_wait))
            self.server = server
        outcome = server.run(spec, permutation)
        return Run(outcome, _reached(server.scheduler))

    def close(self) -> None:
        """Stop the server, if one runs."""
        if self.stack is not None:
            self.stack.close()
        self.stack, self.server = None, None


class ExternalDriver:
    """Schedules on a server of yours, started from its command afresh for each, through
    `racelab step --external`'s ExternalStepper (set up once: the SQL proxy and the FUSE
    mount when the command or --file-points asks for them)."""

    def __init__(self, target, block_wait: float, files: bool = False):
        self.stepper = ExternalStepper(target, block_wait, files).__enter__()

    def run(self, spec: Spec, permutation: list[tuple]) -> Run:
        """Start the server on an emptied store, run one schedule, stop it."""
        outcome = self.stepper.run(spec, permutation)
        return Run(outcome, self.stepper.reached())

    def close(self) -> None:
        """Stop what the stepper started."""
        self.stepper.close()


@contextlib.contextmanager
def driver(target, block_wait: float, files: bool = False):
    """Yield the driver for target (files: an external server's file operations are points
    too), and stop what it started however the run ends."""
    chosen: BuiltinDriver | ExternalDriver
    if target.backend == "external":
        chosen = ExternalDriver(target, block_wait, files)
    else:
        chosen = BuiltinDriver(target, block_wait)
    try:
        yield chosen
    finally:
        with finishing():
            chosen.close()

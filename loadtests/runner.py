"""The load engine: closed (virtual users) or open (arrival rate) model on one event loop.

Every attempt becomes one history record and one stats sample; the run is bounded by
its duration and by a request count. A request is started and ends in a callback, with
no task, coroutine or timer of its own: with them the generator spent about a third more
CPU a request (docs/benchmarks.md section 1).
"""

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from history import WRITE_OPS, run_record
from loadtests.client import open_client
from loadtests.config import LoadConfig
from loadtests.operation import Operation, created_id, history_line, parses, resolve
from loadtests.plan import Planner, ShiftClock, Step
from loadtests.shapes import vus_at
from loadtests.stats import Stats
from racelab.exceptions import RunFailed

CONTROL_INTERVAL_S = 0.05
# An arrival due within this is sent now, stamped with the time it was really sent: uvloop
# runs a timer of under half a millisecond at once, so waiting for it would spin the loop.
EARLY_S = 0.0005
DRAIN_POLL_S = 0.01
# How long the reads before the load (the stock, the rota) may take in all. They are not
# the load's: a load with a 0.1 s timeout (compare --faults retry) would otherwise fail
# when a busy machine's fresh server answers its first request late.
SETUP_READ_S = 10.0


class LoadError(RunFailed):
    """The run could not start (the target did not answer GET /items, or GET /shifts for
    a mix with leaves)."""


@dataclass
class VirtualUser:
    """One user: its own seeded plan and the orders it created."""

    id: int
    planner: Planner
    orders: list = field(default_factory=list)
    active: bool = True
    running: bool = False  # between its first step and the step that finds it parked
    wake: asyncio.TimerHandle | None = None  # the end of its think time, while it thinks


@dataclass
class Arrivals:
    """The open model's state: one seeded plan, the free user slots, the next arrival."""

    planner: Planner
    free: list
    finished: asyncio.Future
    rate: float  # arrivals a second
    orders: list = field(default_factory=list)
    next: int = 0


class LoadRun:
    """Run one load against a target; emit records to a history writer and stats."""

    def __init__(self, config: LoadConfig, history=None, stats: Stats | None = None, items=None):
        """items: the stock to plan against when it is known already (GET /items is skipped)."""
        self.config = config
        self.history = history
        self.stats = stats or Stats()
        self.sent = 0
        self.in_flight = 0
        self.active_vus = 0
        self.stopping = False
        self.items: dict = dict(items or {})
        self._known_items = items is not None
        self.rota: dict = {}  # the shifts a leave may name, read before the load when it has any
        self._start = 0.0
        # Operations in flight by id, kept only when a watcher asks for them (set it to {}):
        # a live check must not judge a write whose answer has not come yet (racelab ui).
        self.pending: dict | None = None

    def elapsed(self) -> float:
        """Return seconds since the load started."""
        return time.perf_counter() - self._start

    async def run(self) -> Stats:
        """Read the items, write the run record, drive the load, and return the stats."""
        c = self.config
        async with open_client(c.client, c.url, c.vus, c.timeout) as client:
            self.client = client
            self._loop = asyncio.get_running_loop()
            await self._read_items()
            try:
                rate = self.config.rate
                await (self._run_open(rate) if rate else self._run_closed())
            except asyncio.CancelledError:  # Ctrl-C: what is in flight still gets its record
                self.stopping = True
                self.client.end_all()
                raise
            self.stats.duration_s = self.elapsed()
        self.stats.timeline.close_second()
        return self.stats

    async def _read_items(self) -> None:
        """Read the stock, then start the clock: `started` is the moment every t0 counts from."""
        if not self._known_items:
            self.items = await self._get_items()
        if self.config.mix.get("leave"):
            self.rota = await self._get_rota()
            self._shifts = ShiftClock(self.rota)
        # Stamped after the read and before the clock starts, so `started` is no earlier than
        # the reading and no later than t0 = 0: a merge can then prove which reading no write
        # preceded (interop.py), whatever thread switch falls between the two lines.
        started = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        self._start = time.perf_counter()
        if self.history is not None:
            self.history.write(
                run_record(
                    self.config.url, started, self.config.seed, self.config.shape(), self.items
                )
            )

    async def _read_before_load(self, path: str):
        """GET path before the clock starts; one that timed out is sent again (a read
        changes nothing) until SETUP_READ_S have passed."""
        deadline = time.monotonic() + SETUP_READ_S
        while True:
            outcome = await self.client.send("GET", path, None, parse=True)
            if outcome.cause != "timeout" or time.monotonic() >= deadline:
                return outcome

    async def _get_items(self) -> dict:
        outcome = await self._read_before_load("/items")
        try:
            if outcome.status != 200:
                raise ValueError(outcome.cause or f"http {outcome.status}")
            return {item["sku"]: item["stock"] for item in outcome.body["items"]}
        except (ValueError, KeyError, TypeError) as e:
            raise LoadError(
                f"cannot read the items from {self.config.url}/items: {type(e).__name__}: {e}"
            ) from None

    async def _get_rota(self) -> dict:
        outcome = await self._read_before_load("/shifts")
        try:
            if outcome.status != 200:
                raise ValueError(outcome.cause or f"http {outcome.status}")
            rota = {entry["shift"]: list(entry["on_call"]) for entry in outcome.body}
        except (ValueError, KeyError, TypeError) as e:
            raise LoadError(
                f"cannot read the on-call shifts from {self.config.url}/shifts, which a mix "
                f"with leaves needs: {type(e).__name__}: {e}"
            ) from None
        if not any(rota.values()):
            raise LoadError(f"{self.config.url}/shifts has no doctor on call: nothing to leave")
        return rota

    def _planner(self, stream: str) -> Planner:
        c = self.config
        return Planner(c.seed, stream, c.mix, list(self.items), c.qty, c.think, self.rota)

    def _budget_left(self) -> bool:
        if self.sent >= self.config.max_requests:
            self.stopping = True
        return not self.stopping

    # --- closed model -----------------------------------------------------------------

    async def _run_closed(self) -> None:
        c = self.config
        stages = c.stages or [(c.duration, c.vus)]
        start_level = 0 if c.stages else c.vus
        users: list[VirtualUser] = []
        while not self.stopping and self.elapsed() < c.duration:
            self._scale(users, vus_at(stages, self.elapsed(), start_level))
            await asyncio.sleep(CONTROL_INTERVAL_S)
        self.stopping = True
        for user in users:
            if user.wake is not None:
                user.wake.cancel()  # a thinking user has nothing in flight: it just stops
        await self._finish()

    def _scale(self, users: list[VirtualUser], target: int) -> None:
        """Start or park users so that target of them are active."""
        # Active users are always a prefix of the list: park from its end, grow at its end.
        active = [u for u in users if u.active]
        for user in active[target:]:
            user.active = False
        for n in range(len(active), target):
            if n == len(users):
                users.append(VirtualUser(n, self._planner(f"v{n}")))
            user = users[n]
            user.active = True  # a parked user still finishing a request just carries on
            if not user.running:
                user.running = True
                self._user_step(user)
        self.active_vus = min(target, len(users))
        self.stats.timeline.set_vus(self.active_vus)

    def _user_step(self, user: VirtualUser) -> None:
        """Send the user's next step, or stop the user if it is parked or the run is over."""
        user.wake = None
        if not (user.active and self._budget_left()):
            user.running = False
            return
        step = user.planner.next()
        self._perform(user.id, step, user.orders, None, lambda: self._user_done(user, step.think))

    def _user_done(self, user: VirtualUser, think: float) -> None:
        if think and not self.stopping:
            user.wake = self._loop.call_later(think, self._user_step, user)
        else:
            self._user_step(user)

    # --- open model -------------------------------------------------------------------

    async def _run_open(self, rate: float) -> None:
        c = self.config
        self._arrivals = Arrivals(
            self._planner("open"),
            list(range(c.vus - 1, -1, -1)),
            self._loop.create_future(),
            rate,
        )
        self._arrive()
        await self._arrivals.finished
        self.stopping = True
        await self._finish()

    def _arrive(self) -> None:
        """Send every arrival that is due, then set a timer for the next one."""
        c, a = self.config, self._arrivals
        now = self.elapsed()
        while True:
            intended = a.next / a.rate
            if intended >= c.duration or not self._budget_left():
                a.finished.set_result(None)
                return
            if intended > now + EARLY_S:
                break
            step, a.next = a.planner.next(), a.next + 1
            if not a.free:
                self.stats.dropped += 1  # no free user: this arrival could not start on time
                continue
            slot = a.free.pop()
            self.active_vus = c.vus - len(a.free)
            # Never stamped later than it was sent: the history's times must hold the request.
            t0 = min(intended, self.elapsed())
            self._perform(slot, step, a.orders, t0, lambda slot=slot: a.free.append(slot))
        self._loop.call_later(intended - now, self._arrive)

    # --- one operation ----------------------------------------------------------------

    def _perform(self, vu: int, step: Step, orders: list, t0: float | None, then) -> None:
        """Resolve a step against this user's orders and send it; then() once it has ended."""
        t0 = self.elapsed() if t0 is None else t0
        if step.op == "leave":
            step.shift, step.doctor = self._shifts.leave(t0, step.doctor_pick)
        operation = resolve(vu, step, orders, then)
        self._send(operation, t0)

    def _send(self, operation: Operation, t0: float) -> None:
        self.sent += 1
        self.in_flight += 1
        operation.t0 = t0
        if self.pending is not None:
            self.pending[id(operation)] = operation
        if (key := _contended_on(operation)) is not None:
            self.stats.write_sent(key)
        method, path, body = operation.request
        parse = parses(operation.op, self.config.record_reads)
        self.client.start(method, path, body, parse, lambda o: self._ended(operation, o))

    def _ended(self, operation: Operation, outcome) -> None:
        """Record one attempt; resend it if it may be retried, else finish the operation."""
        self.in_flight -= 1
        if self.pending is not None:
            self.pending.pop(id(operation), None)
        if (key := _contended_on(operation)) is not None:
            self.stats.write_done(key)
        new_id = created_id(operation.op, outcome)
        self._record(operation, outcome, operation.order_id if new_id is None else new_id)
        if outcome.retryable and not self.stopping and operation.attempt < self.config.retries:
            operation.attempt += 1
            self._send(operation, self.elapsed())
            return
        if new_id is not None:
            operation.orders.append((new_id, operation.token, operation.sku, operation.qty))
        operation.then()

    def _record(self, operation: Operation, outcome, order_id) -> None:
        o, t1 = operation, self.elapsed()
        latency_us = int((t1 - o.t0) * 1_000_000)
        self.stats.record(o.op, outcome.status, outcome.cause, latency_us, t1, self.active_vus)
        if self.history is not None:
            self.history.write_line(
                history_line(o, outcome, order_id, t1, self.config.record_reads)
            )

    async def _finish(self) -> None:
        """Let in-flight requests end (within the timeout), then end what is left as info."""
        deadline = self.elapsed() + self.config.timeout + 1.0
        while self.in_flight and self.elapsed() < deadline:
            await asyncio.sleep(DRAIN_POLL_S)
        if self.in_flight:
            self.client.end_all()
        deadline = self.elapsed() + 1.0
        while self.in_flight and self.elapsed() < deadline:  # end_all's reports, a turn later
            await asyncio.sleep(DRAIN_POLL_S)


def _contended_on(operation: Operation):
    """Return what a write contends on (its sku, a leave's shift), or None for a read."""
    if operation.op in WRITE_OPS:
        return operation.sku
    return ("shift", operation.shift) if operation.op == "leave" else None

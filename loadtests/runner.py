"""The load engine: closed (virtual users) or open (arrival rate) model on one event loop.

Every attempt becomes one history record and one stats sample; the run is bounded by
its duration and by a request count.
"""

import asyncio
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from history import WRITE_OPS, encode_op, run_record
from loadtests.client import open_client, request_args
from loadtests.plan import Planner, Step, default_mix
from loadtests.shapes import vus_at
from loadtests.stats import Stats

CONTROL_INTERVAL_S = 0.05


class LoadError(Exception):
    """The run could not start (the target did not answer GET /items)."""


# The first is the default; uvloop does not run on Windows.
EVENT_LOOPS = ("asyncio",) if sys.platform == "win32" else ("uvloop", "asyncio")


@dataclass
class LoadConfig:
    """Everything that shapes one run."""

    url: str
    duration: float
    vus: int = 10
    stages: list | None = None
    rate: float | None = None
    mix: dict = field(default_factory=default_mix)
    qty: tuple = (1, 3)
    think: tuple = (0.0, 0.0)
    timeout: float = 5.0
    retries: int = 0
    seed: int = 1
    max_requests: int = 1_000_000
    client: str = "fast"
    loop: str = EVENT_LOOPS[0]

    def shape(self) -> dict:
        """Describe the shape for the run record and the summary."""
        model = (
            {"model": "open", "rate": self.rate, "max_vus": self.vus}
            if self.rate
            else {"model": "closed", "vus": self.vus, "stages": self.stages}
        )
        return {
            **model,
            "duration_s": self.duration,
            "mix": self.mix,
            "qty": list(self.qty),
            "think_s": list(self.think),
            "timeout_s": self.timeout,
            "retries": self.retries,
            "max_requests": self.max_requests,
        }


@dataclass
class VirtualUser:
    """One user: its own seeded plan and the orders it created."""

    id: int
    planner: Planner
    orders: list = field(default_factory=list)
    active: bool = True
    task: asyncio.Task | None = None


class LoadRun:
    """Run one load against a target; emit records to a history writer and stats."""

    def __init__(self, config: LoadConfig, history=None, stats: Stats | None = None, items=None):
        """items: the stock to plan against when it is known already (GET /items is skipped)."""
        self.config = config
        self.history = history
        self.stats = stats or Stats()
        self.sent = 0
        self.active_vus = 0
        self.stopping = False
        self.items: dict = dict(items or {})
        self._known_items = items is not None
        self._start = 0.0

    def elapsed(self) -> float:
        """Return seconds since the load started."""
        return time.perf_counter() - self._start

    async def run(self) -> Stats:
        """Read the items, write the run record, drive the load, and return the stats."""
        c = self.config
        async with open_client(c.client, c.url, c.vus, c.timeout) as client:
            self.client = client
            await self._read_items()
            self._start = time.perf_counter()
            await (self._run_open() if self.config.rate else self._run_closed())
            self.stats.duration_s = self.elapsed()
        self.stats.timeline.close_second()
        return self.stats

    async def _read_items(self) -> None:
        started = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        if not self._known_items:
            self.items = await self._get_items()
        if self.history is not None:
            self.history.write(
                run_record(
                    self.config.url, started, self.config.seed, self.config.shape(), self.items
                )
            )

    async def _get_items(self) -> dict:
        outcome = await self.client.send("GET", "/items", None, parse=True)
        try:
            if outcome.status != 200:
                raise ValueError(outcome.cause or f"http {outcome.status}")
            return {item["sku"]: item["stock"] for item in outcome.body["items"]}
        except (ValueError, KeyError, TypeError) as e:
            raise LoadError(
                f"cannot read the items from {self.config.url}/items: {type(e).__name__}: {e}"
            ) from None

    def _planner(self, stream: str) -> Planner:
        c = self.config
        return Planner(c.seed, stream, c.mix, list(self.items), c.qty, c.think)

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
        await self._finish([u.task for u in users if u.task])

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
            if user.task is None or user.task.done():
                user.task = asyncio.create_task(self._user_loop(user))
        self.active_vus = min(target, len(users))
        self.stats.timeline.set_vus(self.active_vus)

    async def _user_loop(self, user: VirtualUser) -> None:
        while user.active and self._budget_left():
            step = user.planner.next()
            await self._perform(user.id, step, user.orders, None)
            if step.think and not self.stopping:
                await asyncio.sleep(step.think)

    # --- open model -------------------------------------------------------------------

    async def _run_open(self) -> None:
        c = self.config
        planner, orders = self._planner("open"), []
        free = list(range(c.vus - 1, -1, -1))
        tasks: set[asyncio.Task] = set()
        arrival = 0
        while self._budget_left():
            intended = arrival / c.rate
            if intended >= c.duration:
                break
            delay = intended - self.elapsed()
            if delay > 0:
                await asyncio.sleep(delay)
            step, arrival = planner.next(), arrival + 1
            if not free:
                self.stats.dropped += 1  # no free user: this arrival could not start on time
                continue
            task = asyncio.create_task(self._open_one(free, free.pop(), step, orders, intended))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            self.active_vus = c.vus - len(free)
        self.stopping = True
        await self._finish(list(tasks))

    async def _open_one(self, free: list, slot: int, step: Step, orders: list, intended: float):
        try:
            await self._perform(slot, step, orders, intended)
        finally:
            free.append(slot)

    # --- one operation ----------------------------------------------------------------

    async def _perform(self, vu: int, step: Step, orders: list, intended: float | None):
        """Resolve a step against this user's orders, send it (with retries), record it."""
        op, order = step.op, None
        if op in ("cancel", "get") and orders:
            order = orders[int(step.pick * len(orders))]
        if order is None and op in ("cancel", "get"):
            # Nothing of this user's to cancel or read yet: order, or browse, instead.
            op = "create" if op == "cancel" else "list"
        if op == "cancel":
            orders.remove(order)  # no other cancel may pick it while this one runs
        if op == "create":
            token, sku, qty, order_id = step.token, step.sku, step.qty, None
        elif order is not None:
            order_id, token, sku, qty = order
        else:
            token = sku = qty = order_id = None
        after_id = order[0] if op == "list" and order else 0
        method, path, body = request_args(op, sku, qty, token, order_id, after_id)
        for attempt in range(self.config.retries + 1):
            t0 = intended if intended is not None and attempt == 0 else self.elapsed()
            outcome = await self._attempt(
                vu, op, method, path, body, token, sku, qty, order_id, t0, attempt
            )
            if not outcome.retryable or self.stopping:
                break
        if op == "create" and outcome.type == "ok" and isinstance(outcome.body, dict):
            new_id = outcome.body.get("id")
            if isinstance(new_id, int):
                orders.append((new_id, token, sku, qty))

    async def _attempt(self, vu, op, method, path, body, token, sku, qty, order_id, t0, attempt):
        self.sent += 1
        write = op in WRITE_OPS
        if write:
            self.stats.write_sent(sku)
        try:
            outcome = await self.client.send(method, path, body, parse=op == "create")
        except asyncio.CancelledError:
            self._record(vu, op, token, sku, qty, order_id, None, "info", t0, "run ended", attempt)
            raise
        finally:
            if write:
                self.stats.write_done(sku)
        if op == "create" and outcome.type == "ok" and isinstance(outcome.body, dict):
            found = outcome.body.get("id")
            order_id = found if isinstance(found, int) and not isinstance(found, bool) else None
        self._record(
            vu,
            op,
            token,
            sku,
            qty,
            order_id,
            outcome.status,
            outcome.type,
            t0,
            outcome.cause,
            attempt,
        )
        return outcome

    def _record(self, vu, op, token, sku, qty, order_id, status, type_, t0, cause, attempt):
        t1 = self.elapsed()
        latency_us = int((t1 - t0) * 1_000_000)
        self.stats.record(op, status, cause, latency_us, t1, self.active_vus)
        if self.history is not None:
            self.history.write_line(
                encode_op(op, vu, token, sku, qty, order_id, status, type_, t0, t1, cause, attempt)
            )

    async def _finish(self, tasks: list) -> None:
        """Let in-flight requests end (within the timeout), then cancel what is left."""
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.config.timeout + 1.0)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

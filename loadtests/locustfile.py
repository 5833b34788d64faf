"""Locust users for racelab's contract and mix, writing a racelab history.

    RACELAB_HISTORY=h.jsonl locust -f loadtests/locustfile.py --headless -u 20 -r 20 -t 30s \\
        -H http://127.0.0.1:8000

Every request goes through Locust's request event hook into the history file named by
RACELAB_HISTORY; in distributed mode (--master/--worker, or --processes N) each worker
writes its own file, the path suffixed with the worker's id, and
`racelab history merge FILES... > history.jsonl` joins them. RACELAB_SEED seeds the users.
RACELAB_WORKLOAD=oncall runs the on-call workload instead (OnCallUser: leaves that walk the
shifts, and rota reads). A read records what it returned, for the stale-read check.
"""

import itertools
import os
import random
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TypedDict

from locust import HttpUser, between, constant, events
from locust.runners import MasterRunner, WorkerRunner

from history import READ_OPS, HistoryWriter, op_record, run_record
from loadtests.client import LIST_LIMIT
from loadtests.outcome import answer_fields, classify_status
from loadtests.plan import default_mix

SEED = int(os.environ.get("RACELAB_SEED", "1"))
THINK = float(os.environ.get("RACELAB_THINK", "0"))
WORKLOAD = os.environ.get("RACELAB_WORKLOAD", "orders")


class _Recorder(TypedDict):
    """This process's history and what names its users."""

    writer: HistoryWriter | None
    start: float  # time.time() at the test's start: the records' times count from it
    worker: str  # this process's short name, in every token it makes
    users: Iterator[int]  # numbers each user as it starts


_recorder: _Recorder = {"writer": None, "start": 0.0, "worker": "l", "users": itertools.count()}
# Requests sent and not yet answered: Locust kills users at the end of a run without
# firing the request event, so whatever is still here then is written as info.
_in_flight: dict[int, tuple[dict, float]] = {}
_request_ids = itertools.count()


def _history_path(environment) -> str | None:
    path = os.environ.get("RACELAB_HISTORY")
    if path and isinstance(environment.runner, WorkerRunner):
        return f"{path}.{environment.runner.client_id}"
    return path


@events.test_start.add_listener
def open_history(environment, **_kwargs):
    """Start the history: read the items snapshot and write the run record."""
    path = _history_path(environment)
    if not path or isinstance(environment.runner, MasterRunner) or _recorder["writer"]:
        return
    import requests

    items = {
        i["sku"]: i["stock"]
        for i in requests.get(f"{environment.host}/items", timeout=10).json()["items"]
    }
    worker = getattr(environment.runner, "client_id", "local")
    _recorder.update(
        writer=HistoryWriter(path),
        start=time.time(),
        worker=f"l{zlib.crc32(str(worker).encode()) % 100_000}",
    )
    started = datetime.fromtimestamp(_recorder["start"], timezone.utc).isoformat()
    _recorder["writer"].write(
        run_record(environment.host, started, SEED, {"model": "locust", "worker": worker}, items)
    )


@events.test_stop.add_listener
def close_history(environment, **_kwargs):
    """Write the requests cut off by the stop as info, then flush and close the history."""
    writer = _recorder["writer"]
    if writer:
        for context, t0 in list(_in_flight.values()):
            writer.write(
                op_record(
                    context["op"],
                    context["vu"],
                    context.get("token"),
                    context.get("sku"),
                    context.get("qty"),
                    context.get("order_id"),
                    None,
                    "info",
                    t0,
                    time.time() - _recorder["start"],
                    "run ended",
                )
                | _extra_fields(context, None, None)
            )
        _in_flight.clear()
        _recorder["writer"].close()
        _recorder["writer"] = None


@events.request.add_listener
def record(
    request_type, name, response_time, response, context, exception, start_time=None, **_kwargs
):
    """Write one history record per request, typed as Jepsen would."""
    writer = _recorder["writer"]
    if writer is None or not context or "op" not in context:
        return
    _in_flight.pop(context.get("request"), None)
    status = getattr(response, "status_code", 0) or None
    if status:
        type_, error = classify_status(status), None if status < 400 else f"http {status}"
    elif exception is not None and "refused" in str(exception).lower():
        type_, error = "fail", "connect refused"
    else:
        type_, error = "info", f"{type(exception).__name__}" if exception else "no response"
    t0 = (start_time or time.time() - response_time / 1000) - _recorder["start"]
    order_id = context.get("order_id")
    if context["op"] == "create" and type_ == "ok":
        try:
            order_id = response.json()["id"]
        except (ValueError, KeyError, TypeError):
            order_id = None
    record = op_record(
        context["op"],
        context["vu"],
        context.get("token"),
        context.get("sku"),
        context.get("qty"),
        order_id,
        status,
        type_,
        t0,
        t0 + response_time / 1000,
        error,
    )
    writer.write(record | _extra_fields(context, status, response))


def _extra_fields(context: dict, status, response) -> dict:
    """Return a leave's shift and doctor, or what a read returned (as racelab load does)."""
    if context["op"] == "leave":
        return {"shift": context["shift"], "doctor": context["doctor"]}
    if context["op"] not in READ_OPS or status not in (200, 404):
        return {}
    try:
        body = response.json() if status == 200 else None
    except ValueError:
        return {}
    return answer_fields(context["op"], status, body, context.get("after_id", 0), LIST_LIMIT)


def weighted(workload: str, ops) -> list:
    """Return Locust's tasks in the workload's default mix (loadtests/plan.py): each op as
    many times as its weight, as Locust expands @task(weight)."""
    mix = default_mix(workload)
    return [op for op in ops for _ in range(mix[op.__name__])]


class OrderUser(HttpUser):
    """One shopper: orders, cancels, reads, in `racelab load`'s default mix for orders."""

    abstract = WORKLOAD != "orders"  # Locust runs every user class that is not abstract
    wait_time = between(0, THINK) if THINK else constant(0)

    def on_start(self):
        self.vu = next(_recorder["users"])
        self.random = random.Random(f"{SEED}/{_recorder['worker']}-{self.vu}")
        self.orders, self.n = [], 0
        self.skus = [i["sku"] for i in self.client.get("/items").json()["items"]]

    def _send(self, method: str, path: str, name: str, context: dict, expected=(), **kwargs):
        """Send one request recorded under context; statuses in expected are no failure."""
        context["request"] = next(_request_ids)  # Locust may copy the context; keep a key
        _in_flight[context["request"]] = (context, time.time() - _recorder["start"])
        if not expected:
            return self.client.request(method, path, name=name, context=context, **kwargs)
        with self.client.request(method, path, name=name, context=context, catch_response=True,
                                 **kwargs) as response:  # fmt: skip
            if response.status_code in expected:
                response.success()
        return response

    def _mine(self):
        return self.orders[self.random.randrange(len(self.orders))] if self.orders else None

    def create(self):
        self.n += 1
        order = {
            "sku": self.random.choice(self.skus),
            "qty": self.random.randint(1, 3),
            "token": f"l{SEED}-{_recorder['worker']}-{self.vu}-{self.n}",
        }
        context = {"op": "create", "vu": self.vu, **order}
        response = self._send("POST", "/orders", "/orders", context, json=order)
        if response.status_code in (200, 201):
            self.orders.append({**order, "id": response.json()["id"]})

    def cancel(self):
        order = self._mine()
        if order is None:
            return self.create()
        self.orders.remove(order)
        context = {
            "op": "cancel",
            "vu": self.vu,
            "order_id": order["id"],
            **{k: order[k] for k in ("sku", "qty", "token")},
        }
        self._send("DELETE", f"/orders/{order['id']}", "/orders/{id}", context)

    def get(self):
        order = self._mine()
        if order is None:
            return self.list()
        context = {
            "op": "get",
            "vu": self.vu,
            "order_id": order["id"],
            **{k: order[k] for k in ("sku", "qty", "token")},
        }
        self._send("GET", f"/orders/{order['id']}", "/orders/{id}", context)

    def list(self):
        after = (self._mine() or {"id": 0})["id"]
        self._send(
            "GET",
            f"/orders?limit={LIST_LIMIT}&after_id={after}",
            f"/orders?limit={LIST_LIMIT}",
            {"op": "list", "vu": self.vu, "after_id": after},
        )

    tasks = weighted("orders", (create, cancel, get, list))


class OnCallUser(HttpUser):
    """One doctor's pager: leaves that walk the shifts in order, and rota reads, in
    `racelab load`'s default mix for on-call."""

    abstract = WORKLOAD != "oncall"
    wait_time = between(0, THINK) if THINK else constant(0)

    def on_start(self):
        self.vu = next(_recorder["users"])
        self.random = random.Random(f"{SEED}/{_recorder['worker']}-{self.vu}")
        self.rota = [(s["shift"], s["on_call"]) for s in self.client.get("/shifts").json()]
        self.n = 0

    def leave(self):
        shift, doctors = self.rota[self.n % len(self.rota)]
        self.n += 1
        token = f"l{SEED}-{_recorder['worker']}-{self.vu}-{self.n}"
        context = {"op": "leave", "vu": self.vu, "token": token, "shift": shift,
                   "doctor": self.random.choice(doctors)}  # fmt: skip
        body = {"doctor": context["doctor"], "token": token}
        # A 409 is the rule kept (the last one on call stays): Locust must not count it failed.
        self._send("POST", f"/shifts/{shift}/leave", "/shifts/{shift}/leave", context, (200, 409),
                   json=body)  # fmt: skip

    def shifts(self):
        self._send("GET", "/shifts", "/shifts", {"op": "shifts", "vu": self.vu})

    tasks = weighted("oncall", (leave, shifts))

    _send = OrderUser._send

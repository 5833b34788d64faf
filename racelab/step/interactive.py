"""`racelab step --interactive`: the user is the scheduler, one key per step.

Each key names the session that takes its next step; before each, the class sees where
every session stands, the store, and the answers so far.
"""

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from racelab.compare.targets import TargetSpec
from racelab.step.client import Client
from racelab.step.lanes import EveryPoint
from racelab.step.runner import (
    PERMUTATION_LIMIT_S,
    Answer,
    Outcome,
    checked,
    session_loop,
    stepped_server,
)
from racelab.step.scheduler import BLOCK_WAIT_S, Scheduler
from racelab.step.spec import Spec

Show = Callable[[list[str]], None]  # displays lines to the user


def run_interactive(spec: Spec, target: TargetSpec, keys: Iterable[str], show: Show,
                    block_wait: float = BLOCK_WAIT_S) -> Outcome:  # fmt: skip
    """Let the user be the scheduler: each key names the session that takes its next step.

    keys yields one key at a time (a session's name, or q to let everything finish); show
    is called with the lines to display before each key and at the end.
    """
    lanes = {s.name: EveryPoint() for s in spec.sessions}
    with stepped_server(target, block_wait) as server:
        server.prepare(spec, lanes)
        return _interact(spec, server.scheduler, server.url, server.data_dir, keys, show)


def _interact(spec: Spec, scheduler: Scheduler, url: str, data_dir: Path, keys: Iterable[str],
              show: Show) -> Outcome:  # fmt: skip
    clock = time.perf_counter()
    records: list[dict] = []  # the writes' history records, for the checker
    ids: dict[str, int] = {}  # token -> the order id a create was given
    answers: list[Answer] = []
    clients = {s.name: Client(url, s.name) for s in spec.sessions}
    for i, session in enumerate(spec.sessions):
        args = (clients[session.name], session, i, ids, answers, records, clock, scheduler)
        threading.Thread(target=session_loop, args=args, daemon=True).start()
    names = {s.name.lower(): s.name for s in spec.sessions}
    scheduler.wait_settled(scheduler.block_wait)  # the start: every session at its first point
    for key in keys:
        key = key.strip().lower()
        if key in ("q", "") or all(scheduler.lanes[n].done for n in names.values()):
            break
        show(_state_lines(spec, scheduler, url, answers))
        if key in names:
            log = scheduler.step(names[key])
            show([f"> {log.step}: {log.outcome}"])
        else:
            show([f"> {key!r} is not a session ({', '.join(names.values())}); q ends"])
    scheduler.run([], PERMUTATION_LIMIT_S)
    scheduler.wait_done(PERMUTATION_LIMIT_S)
    for client in clients.values():
        client.close()
    report = checked(spec, url, data_dir, records)
    outcome = Outcome(scheduler.log, answers, report.verdict.value, report.anomalies)
    show(_state_lines(spec, scheduler, url, answers)
         + [f"verdict: {report.verdict}"
            + "".join(f", {k} {v}" for k, v in report.anomalies.items() if v)])  # fmt: skip
    return outcome


def _state_lines(spec: Spec, scheduler: Scheduler, url: str, answers: list[Answer]) -> list[str]:
    """Return what a class at a projector needs: each session's place, the store, answers."""
    reader = Client(url, "")
    _, items, _ = reader.send("GET", "/items")
    _, orders, _ = reader.send("GET", "/orders")
    reader.close()
    lines = [f"  {s.name}: {scheduler.where(s.name)}" for s in spec.sessions]
    stock = ", ".join(f"{i['sku']} {i['stock']}" for i in (items or {}).get("items", []))
    stored = ", ".join(f"#{o['id']} {o['token']}" for o in (orders or {}).get("orders", []))
    lines.append(f"  store: stock {stock or '?'}; orders {stored or 'none'}")
    lines += [f"  {a.session} got: {a.text()}" for a in answers]
    return lines

"""Step sessions played from the page: one `racelab serve --step` each, kept for many
permutations (the store is reseeded in place), every session a lane the class releases, and
the store beside the lanes as its file holds it.

Playing permutation K, the class clicks the sessions in K's order; the points K does not
name are passed on their own, and after K's last step every session runs to its end. With
no permutation (0), every pause point is a click.
"""

import contextlib
import threading
import time
from pathlib import Path

from racelab.exceptions import BadInput
from racelab.step.client import Client
from racelab.step.lanes import EveryPoint
from racelab.step.runner import (
    PERMUTATION_LIMIT_S,
    checked,
    send_setup,
    session_loop,
    stepped_server,
)
from racelab.step.spec import Spec, StepSpecError, load_spec, parse_spec, step_name, tomllib
from racelab.ui.source import pause_line, strategy_source
from shapes import ROW_FIELDS

BLOCK_WAIT_S = 0.5  # a released session not at its next point by then is shown waiting
SPECS_DIR = Path(__file__).resolve().parents[2] / "specs"
ORDERS_SHOWN = 50  # of the store's orders, on the Step page
TEXT_SHOWN = 4000  # characters of a JSON store's text


class StepInputError(BadInput, ValueError):
    """A spec or target the page cannot step."""


def spec_from(value) -> Spec:
    """Return the spec named (a file in specs/) or given as TOML text."""
    if not isinstance(value, str) or not value.strip():
        raise StepInputError("spec must be a name from specs/ or a spec's TOML text")
    try:
        if "\n" in value or "[[session]]" in value:
            return parse_spec(tomllib.loads(value), "<page>", value)
        path = SPECS_DIR / (value if value.endswith(".toml") else f"{value}.toml")
        if "/" in value or not path.is_file():
            raise StepInputError(f"no spec {value!r} in specs/ (there: {', '.join(spec_names())})")
        return load_spec(path)
    except (StepSpecError, tomllib.TOMLDecodeError) as e:
        raise StepInputError(f"spec: {e}") from None


def spec_names() -> list[str]:
    """Return the specs in specs/, by name."""
    return sorted(p.stem for p in SPECS_DIR.glob("*.toml"))


class StepSession:
    """A spec on one target's stepped server; one permutation played at a time."""

    def __init__(self, session_id: str, spec: Spec, target):
        self.id, self.spec, self.target = session_id, spec, target
        self.stack = contextlib.ExitStack()
        self.server = self.stack.enter_context(stepped_server(target, BLOCK_WAIT_S))
        self.lock = threading.Lock()  # one click at a time
        self.results: dict[int, str] = {}  # permutation -> its cell, as racelab step prints
        self.clients: dict = {}
        self.source = strategy_source(target)

    def begin(self, permutation: int) -> None:
        """Reseed the store and hold every session at its first point."""
        self._end_sessions()
        self.permutation = permutation
        self.plan = list(self.spec.permutations[permutation - 1]) if permutation else []
        self.log: list[dict] = []
        self.answers: list = []  # racelab.step's answers, in the order they came
        self.records: list[dict] = []
        self.ids: dict = {}
        self.verdict: str | None = None
        self.anomalies: dict = {}
        self.ready_s = 0.0
        started = time.perf_counter()
        self.server.prepare(self.spec, {s.name: EveryPoint() for s in self.spec.sessions})
        self.records += send_setup(self.server.url, self.spec, self.ids)
        self._start_sessions()
        self._advance()
        self.ready_s = round(time.perf_counter() - started, 3)

    def _start_sessions(self) -> None:
        """Send each session's requests from its own thread; wait until each is held."""
        scheduler, clock = self.server.scheduler, time.perf_counter()
        self.clients = {s.name: Client(self.server.url, s.name) for s in self.spec.sessions}
        for i, session in enumerate(self.spec.sessions):
            args = (self.clients[session.name], session, i, self.ids, self.answers,
                    self.records, clock, scheduler)  # fmt: skip
            threading.Thread(target=session_loop, args=args, daemon=True).start()
        scheduler.wait_settled(BLOCK_WAIT_S * 4)

    def release(self, name: str) -> None:
        """Release a session's next step, pass what the plan does not name, maybe finish."""
        if name not in self.server.scheduler.lanes:
            raise StepInputError(f"no session {name!r} (sessions: {', '.join(self._names())})")
        if self.verdict is not None:
            return
        point = self._held_at(name)
        log = self.server.scheduler.step(name)
        if point is not None and (name, point) in self.plan:
            self.plan.remove((name, point))
        self.log.append({"step": log.step, "outcome": log.outcome})
        self._advance()

    def _advance(self) -> None:
        """Pass every point the plan does not name; run to the end once the plan is done."""
        scheduler = self.server.scheduler
        if self.permutation:
            moved = True
            while moved and self.plan:
                moved = False
                for name in self._names():
                    point = self._held_at(name)
                    if point is not None and (name, point) not in self.plan:
                        scheduler.step(name)  # a point this permutation does not name
                        moved = True
            if not self.plan:
                scheduler.run([], PERMUTATION_LIMIT_S)  # every session to its end
        if all(lane.done for lane in scheduler.lanes.values()):
            self._finish()

    def _finish(self) -> None:
        """Check the store against the history of exactly these requests."""
        self.server.scheduler.wait_done(PERMUTATION_LIMIT_S)
        report = checked(self.spec, self.server.url, self.server.data_dir, self.records)
        self.verdict = report.verdict.value
        self.anomalies = {k: v for k, v in report.anomalies.items() if v}
        if self.permutation:
            broke = ", ".join(sorted(self.anomalies))
            self.results[self.permutation] = broke or self.verdict

    def _held_at(self, name: str) -> str | None:
        held = self.server.scheduler.lanes[name].held
        return held[0] if held is not None else None

    def _names(self) -> list[str]:
        return [s.name for s in self.spec.sessions]

    def _end_sessions(self) -> None:
        """Let a permutation still under way run out, and close its connections."""
        scheduler = self.server.scheduler
        if self.clients:
            scheduler.release_all()
            scheduler.wait_done(PERMUTATION_LIMIT_S)
        for client in self.clients.values():
            client.close()
        self.clients = {}

    def close(self) -> None:
        """Stop the server and its scheduler."""
        with contextlib.suppress(Exception):
            self._end_sessions()
        self.stack.close()

    def state(self) -> dict:
        """Return what the page draws: lanes, answers, the store, the verdict."""
        return {
            "id": self.id,
            "spec": self.spec.name,
            "target": self.target.name,
            "permutation": self.permutation,
            "permutations": [[step_name(s) for s in p] for p in self.spec.permutations],
            "next": step_name(self.plan[0]) if self.plan else None,
            "sessions": [self._lane(s) for s in self.spec.sessions],
            "log": self.log,
            "answers": [_answer(a) for a in list(self.answers)],
            "store": store_view(self.server.data_dir),
            "verdict": self.verdict,
            "anomalies": self.anomalies,
            "results": {str(k): v for k, v in sorted(self.results.items())},
            "source": self.source,
            "pause_lines": self._pause_lines(),
            "ready_s": self.ready_s,
        }

    def _pause_lines(self) -> dict:
        """Return {session: {file, line}} of the pause point each held session waits at."""
        lines = {}
        for session in self.spec.sessions:
            point = self._held_at(session.name)
            answered = sum(a.session == session.name for a in list(self.answers))
            if point is None or answered >= len(session.requests):
                continue
            found = pause_line(self.source, session.requests[answered]["op"], point)
            if found:
                lines[session.name] = found
        return lines

    def play_rest(self) -> None:
        """Run every permutation without a cell yet, unattended; then ready the one shown."""
        self._end_sessions()
        for number, permutation in enumerate(self.spec.permutations, 1):
            if number in self.results:
                continue
            outcome = self.server.run(self.spec, permutation)
            broke = ", ".join(sorted(k for k, v in outcome.anomalies.items() if v))
            self.results[number] = broke or outcome.verdict
            if self.server.spoiled:  # a session never finished: the server may still hold it
                break
        self.begin(self.permutation)

    def _lane(self, session) -> dict:
        """Return one session's lane: its requests, where it is, and whether it may go."""
        lane = self.server.scheduler.lanes[session.name]
        status = "done" if lane.done else "ready" if lane.held is not None else "waiting"
        return {
            "name": session.name,
            "requests": [_request_text(r) for r in session.requests],
            "at": lane.held[0] if lane.held is not None else None,
            "status": status,
            "answered": sum(a.session == session.name for a in list(self.answers)),
        }


def _request_text(request: dict) -> str:
    """Return e.g. 'create a1: 1 x sku-1'."""
    if request["op"] == "create":
        return f"create {request['token']}: {request['qty']} x {request['sku']}"
    return f"{request['op']} {request.get('token') or ''}".strip()


def _answer(answer) -> dict:
    return {"session": answer.session, "text": answer.text(), "status": answer.status}


def store_view(data_dir: Path) -> dict:
    """Return {"items", "orders", "text", "error"} of the store in data_dir."""
    # Read from the file, never through the server: a session held inside a lock must not
    # make the page wait for it.
    from checker.stores import read_store, resolve_store_path

    try:
        path = resolve_store_path(data_dir)
        snapshot = read_store(path, integrity=False)
    except (OSError, ValueError) as e:
        return {"items": {}, "orders": [], "text": None, "error": str(e)}
    orders = snapshot.orders
    shown = [orders[i] for i in range(min(len(orders), ORDERS_SHOWN))]
    text = None
    if Path(path).suffix == ".json":
        text = Path(path).read_text(errors="replace")[:TEXT_SHOWN]
    return {
        "items": snapshot.items or {},
        "orders": [dict(zip(ROW_FIELDS, order, strict=True)) for order in shown],
        "text": text,
        "error": snapshot.corruption or snapshot.unreadable,
    }

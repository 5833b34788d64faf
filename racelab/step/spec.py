"""Step specs: sessions of contract requests and the interleavings to run them in (TOML).

The shape, after PostgreSQL's isolationtester (docs/contract.md, "Step specs"):

    name = "two orders for the last item"
    setup = { skus = 1, stock = 1 }   # and/or { shifts = 1, doctors = 2 }
    [[session]]
    name = "A"
    requests = [{ op = "create", sku = "sku-1", qty = 1, token = "a1" }]
    permutations = [["A.read", "B.read", "A.write", "B.write"]]

A step SESSION.POINT lets that session's paused request do what comes after POINT, up to
its next pause point. Leave permutations out to run every interleaving of each session's
`read` and `write` steps, one pair per write request.
"""

import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from racelab.exceptions import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from servers.registry import find_strategy
from servers.stepping import COMMON_POINTS

OPS = {"create": ("sku", "qty", "token"), "cancel": ("token",), "get": ("token",),
       "leave": ("shift", "doctor", "token")}  # fmt: skip
READS = ("list", "items", "shifts")
WRITES = ("create", "cancel", "leave")
Step = tuple[str, str]  # (session, point): the step SESSION.POINT
Permutation = list[Step]


class StepSpecError(BadInput, ValueError):
    """A spec that cannot run, with the line that says so (0: the file as a whole)."""

    def __init__(self, path, line: int, problem: str):
        super().__init__(f"{path}:{line}: {problem}" if line else f"{path}: {problem}")


@dataclass
class Session:
    """One client: a name and the requests it sends, one after another."""

    name: str
    requests: list[dict]

    def writes(self) -> int:
        """Return how many of its requests are writes (each passes its pause points once)."""
        return sum(r["op"] in WRITES for r in self.requests)


@dataclass
class Spec:
    """A parsed, checked spec."""

    name: str
    path: str
    skus: int
    stock: int
    orders: list[dict]  # orders stored before any session starts, e.g. one to cancel twice
    sessions: list[Session]
    permutations: list[Permutation] = field(default_factory=list)
    # target name -> the matrix cell each permutation must give (tests/test_step.py)
    expected: dict[str, list[str]] = field(default_factory=dict)
    text: str = ""
    shifts: int = 1  # the on-call rota: shifts s1.., each with doctors d1.. on call
    doctors: int = 2

    @property
    def workload(self) -> str:
        """Return "oncall" for a spec whose sessions leave shifts, else "orders"."""
        ops = {r["op"] for s in self.sessions for r in s.requests}
        return "oncall" if "leave" in ops else "orders"

    def session(self, name: str) -> Session:
        """Return the session called name."""
        return next(s for s in self.sessions if s.name == name)


def load_spec(path) -> Spec:
    """Read and check a spec file; raise StepSpecError naming the line and the problem."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise StepSpecError(path, 0, f"cannot be read ({e.strerror})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = int(m.group(1)) if (m := re.search(r"line (\d+)", str(e))) else 0
        raise StepSpecError(path, line, f"not TOML: {e}") from None
    return parse_spec(doc, str(path), text)


def parse_spec(doc: dict, path: str, text: str = "") -> Spec:
    """Check a spec's document and return it; raise StepSpecError naming the line."""

    def fail(problem: str, near: str = "") -> StepSpecError:
        return StepSpecError(path, line_of(text, near), problem)

    doc = _hoisted(doc, fail)
    setup, skus, stock = _setup(doc, fail)
    sessions = _sessions(doc, fail)
    orders = [_request({"op": "create", **o}, fail) for o in setup.get("orders", [])]
    _check_tokens(sessions, orders, fail)
    name = str(doc.get("name", Path(path).stem))
    spec = Spec(name, path, skus, stock, orders=orders, sessions=sessions, text=text)
    spec.shifts, spec.doctors = setup.get("shifts", 1), setup.get("doctors", 2)
    raw = doc.get("permutations")
    if raw is None and _interleavings(sessions) > MAX_INTERLEAVINGS:
        raise fail(
            f"every interleaving would be {_interleavings(sessions)} runs (at most "
            f"{MAX_INTERLEAVINGS}): list the permutations to run"
        )
    spec.permutations = (
        [_permutation(p, spec, fail) for p in _list(raw, "permutations", fail)]
        if raw is not None
        else every_interleaving(sessions)
    )
    spec.expected = _expected(doc.get("expected", {}), len(spec.permutations), fail)
    return spec


def _setup(doc: dict, fail) -> tuple[dict, int, int]:
    """Return the setup table, its skus and its stock, checked."""
    setup = doc.get("setup", {})
    if not isinstance(setup, dict):
        raise fail("setup must be a table such as { skus = 1, stock = 1 }", "setup")
    skus, stock = setup.get("skus", 1), setup.get("stock", 10)
    if not _count(skus, 1, 1000) or not _count(stock, 0, 10**9):
        raise fail("setup needs skus 1..1000 and stock 0..10^9", "setup")
    if not all(_count(setup.get(k, 1), 1, 1000) for k in ("shifts", "doctors")):
        raise fail("setup needs shifts 1..1000 and doctors (each shift's) 1..1000", "setup")
    return setup, skus, stock


def _sessions(doc: dict, fail) -> list:
    """Return the [[session]] tables as Sessions: at least one, each named once."""
    sessions = [_session(s, fail) for s in _list(doc.get("session", []), "[[session]]", fail)]
    if len(sessions) < 1:
        raise fail("a spec needs at least one [[session]]")
    names = [s.name for s in sessions]
    if len(set(names)) != len(names):
        raise fail("two sessions share a name", "name")
    return sessions


def _expected(doc, count: int, fail) -> dict[str, list[str]]:
    if not isinstance(doc, dict):
        raise fail("expected must be a table of target = [cell, ...]", "expected")
    for target, cells in doc.items():
        if not isinstance(cells, list) or len(cells) != count:
            raise fail(f"expected {target} needs one cell per permutation ({count})", target)
    return {target: [str(c) for c in cells] for target, cells in doc.items()}


MAX_INTERLEAVINGS = 200


def _interleavings(sessions) -> int:
    """Return how many interleavings every_interleaving would make (a multinomial)."""
    sizes = [len(COMMON_POINTS) * s.writes() for s in sessions]
    return math.factorial(sum(sizes)) // math.prod(math.factorial(n) for n in sizes)


def _hoisted(doc: dict, fail) -> dict:
    """Return doc with top-level keys written after the last [[session]] lifted back out.

    In TOML, `permutations = ...` below a [[session]] table belongs to that session; a
    reader writes it there naturally, so it is taken as the spec's own.
    """
    sessions = doc.get("session")
    if not isinstance(sessions, list) or not sessions or not isinstance(sessions[-1], dict):
        return doc
    last = dict(sessions[-1])
    lifted = {key: last.pop(key) for key in SPEC_KEYS if key in last}
    for key in lifted:
        if key in doc:
            raise fail(f"{key} is given twice", key)
    return {**doc, **lifted, "session": [*sessions[:-1], last]}


SPEC_KEYS = ("permutations", "expected")


def _count(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _list(value, what: str, fail) -> list:
    if not isinstance(value, list):
        raise fail(f"{what} must be a list", what.strip("[]"))
    return value


def _session(doc, fail) -> Session:
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise fail("every [[session]] needs a name", "[[session]]")
    name = doc["name"]
    unknown = sorted(set(doc) - {"name", "requests"})
    if unknown:
        raise fail(f"session {name} has unknown key {unknown[0]!r}", unknown[0])
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", name):
        raise fail(f"session name {name!r} must be 1-32 letters, digits, _ or -", name)
    requests = [_request(r, fail) for r in _list(doc.get("requests"), "requests", fail)]
    if not requests:
        raise fail(f"session {name} sends no requests", name)
    return Session(name, requests)


def _request(doc, fail) -> dict:
    if not isinstance(doc, dict) or doc.get("op") not in (*OPS, *READS):
        known = ", ".join([*OPS, *READS])
        raise fail(f"a request needs op, one of {known}: {doc!r}", "op")
    for key in OPS.get(doc["op"], ()):
        if key not in doc:
            raise fail(f"a {doc['op']} needs {key}: {doc!r}", doc["op"])
    if doc["op"] == "leave" and not all(isinstance(doc[k], str) for k in OPS["leave"]):
        raise fail(f"a leave needs a shift, a doctor and a token: {doc!r}", str(doc.get("token")))
    if doc["op"] == "create" and not (_count(doc["qty"], 1, 100) and isinstance(doc["sku"], str)):
        raise fail(f"a create needs a sku and a qty of 1..100: {doc!r}", str(doc.get("token")))
    return dict(doc)


def _check_tokens(sessions, orders, fail) -> None:
    created = [r["token"] for s in sessions for r in s.requests if r["op"] == "create"]
    known = set(created) | {o["token"] for o in orders}
    for session in sessions:
        for request in session.requests:
            if request["op"] in ("cancel", "get") and request["token"] not in known:
                raise fail(
                    f"session {session.name} names token {request['token']!r}, which no "
                    "create and no setup order makes",
                    request["token"],
                )


def _permutation(steps, spec: Spec, fail) -> Permutation:
    parsed: Permutation = []
    for step in _list(steps, "permutations", fail):
        name, dot, point = str(step).partition(".")
        if not dot or not point:
            raise fail(f"step {step!r} is not SESSION.POINT", str(step))
        if name not in {s.name for s in spec.sessions}:
            raise fail(f"step {step!r} names unknown session {name!r}", str(step))
        parsed.append((name, point))
    for (name, point), count in Counter(parsed).items():
        if count > spec.session(name).writes():
            raise fail(
                f"step {name}.{point} appears {count} times, but session {name} sends "
                f"{spec.session(name).writes()} write(s): a step twice",
                f"{name}.{point}",
            )
    return parsed


def check_targets(spec: Spec, targets: list) -> None:
    """Raise StepSpecError if a step names a point a target's strategy does not have."""
    for target in targets:
        points = find_strategy(target.backend, target.strategy).pause_points
        for name, point in (step for permutation in spec.permutations for step in permutation):
            if point not in points:
                raise StepSpecError(
                    spec.path,
                    line_of(spec.text, f"{name}.{point}"),
                    f"{target.name} has no pause point {point!r} (it has {', '.join(points)})",
                )


def every_interleaving(sessions: list[Session]) -> list[Permutation]:
    """Return every order of the sessions' steps that keeps each session's own order."""
    lanes = [
        tuple((s.name, point) for _ in range(s.writes()) for point in COMMON_POINTS)
        for s in sessions
    ]
    return [list(steps) for steps in _merges(tuple(lanes))]


def _merges(lanes: tuple) -> list[tuple]:
    """Return every merge of the lanes that keeps each lane's order (first lane first)."""
    if sum(map(len, lanes)) == 0:
        return [()]
    found = []
    for i, lane in enumerate(lanes):
        if lane:
            rest = (*lanes[:i], lane[1:], *lanes[i + 1 :])
            found += [(lane[0], *tail) for tail in _merges(rest)]
    return found


def is_serial(permutation: Permutation) -> bool:
    """Say whether each session's steps come together: one session after another."""
    sessions = [name for name, _ in permutation]
    runs = [name for i, name in enumerate(sessions) if i == 0 or sessions[i - 1] != name]
    return len(runs) == len(set(runs))


def line_of(text: str, needle: str) -> int:
    """Return the 1-based line of text where needle first appears (0 if nowhere)."""
    if not needle:
        return 0
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 0


def step_name(step: Step) -> str:
    """Return 'A.read' for ('A', 'read')."""
    return f"{step[0]}.{step[1]}"

"""Explore a spec's interleavings on one target: compute only; progress through a callback.

First each session runs alone on a fresh store, and the points it reaches are its steps;
then the chosen interleavings of those steps run, each on a fresh store, and the checker
judges each (racelab.step.runner). The points one create passes, learned the same way,
write a reproduction in a server's own points (`racelab check --repro --external`).
"""

from dataclasses import dataclass, field

from racelab.exceptions import RacelabError
from racelab.explore import schedules
from racelab.explore.drive import driver
from racelab.explore.requests import alone, build_spec
from racelab.process_exit import raise_if_stopped
from racelab.step.runner import Outcome
from racelab.step.scheduler import BLOCK_WAIT_S
from racelab.step.spec import Spec, step_name

DEFAULT_BUDGET = 200
AMPLE_STOCK = 100  # as a reproduction's setup has: the create is not refused for stock


class NothingToInterleave(RacelabError):
    """No session reached a pause point when it ran alone: there is no schedule to choose."""


@dataclass
class Tried:
    """One schedule and what it left."""

    schedule: list[tuple[str, str]]
    outcome: Outcome

    @property
    def failed(self) -> bool:
        """Say whether the checker found an anomaly."""
        return self.outcome.verdict == "failed"

    @property
    def held(self) -> bool:
        """Say whether the checker found nothing and every session got its answers."""
        return self.outcome.verdict == "held" and self.outcome.finished

    def steps(self) -> list[str]:
        """Return the schedule as 'A.read' steps."""
        return [step_name(s) for s in self.schedule]


@dataclass
class Exploration:
    """What explore learned and ran on one target."""

    target: str
    points: dict[str, list[str]]  # session -> the points it reached alone, in order
    total: int  # interleavings of those points
    sampled: bool  # a seeded sample ran, not every interleaving
    seed: int
    tried: list[Tried] = field(default_factory=list)

    def failing(self) -> list[Tried]:
        """Return the schedules that failed, fewest switches between sessions first."""
        ordered = schedules.shortest_first([t.schedule for t in self.tried if t.failed])
        by_key = {tuple(t.schedule): t for t in self.tried}
        return [by_key[tuple(s)] for s in ordered]

    def inconclusive(self) -> list[Tried]:
        """Return the schedules that did not fail and cannot be said to have held: the
        checker said unknown, or a session had no answer within the schedule's bound."""
        return [t for t in self.tried if not t.failed and not t.held]


def learn(spec: Spec, run, progress) -> dict[str, list[str]]:
    """Run each session alone on a fresh store; return the points each reached, in order,
    as steps a spec can name."""
    points = {}
    for session in spec.sessions:
        reached = run(alone(spec, session.name), []).reached.get(session.name, [])
        points[session.name] = nameable(reached, session.writes())
        progress(f"{session.name} alone reached {' '.join(reached) or 'no pause point'}")
    if not any(points.values()):
        raise NothingToInterleave("no session reached a pause point when it ran alone")
    return points


def nameable(reached: list[str], writes: int) -> list[str]:
    """Return the points a spec can name as steps: a point met again at once (a create's two
    SELECTs) is one step, and a point is named at most once per write request, as a spec
    allows; the rest run unnamed, within the step before them."""
    collapsed = [p for i, p in enumerate(reached) if i == 0 or reached[i - 1] != p]
    kept, seen = [], dict[str, int]()
    for point in collapsed:
        seen[point] = seen.get(point, 0) + 1
        if seen[point] <= writes:
            kept.append(point)
    return kept


def lanes_of(points: dict[str, list[str]]) -> list[list[tuple[str, str]]]:
    """Return each session's steps, [('A', 'read'), ('A', 'write')], in its own order."""
    return [[(name, point) for point in reached] for name, reached in points.items()]


@dataclass(frozen=True)
class Search:
    """How to search: how many schedules at most, the sample's seed, how long a step may
    take before it counts as blocked, and whether an external server's file operations are
    points too."""

    budget: int = DEFAULT_BUDGET
    seed: int = 0
    block_wait: float = BLOCK_WAIT_S
    files: bool = False


def explore(spec: Spec, target, search: Search = Search(), progress=None) -> Exploration:
    """Learn the sessions' points on target, then run and check the chosen interleavings."""
    progress = progress or (lambda text: None)
    with driver(target, search.block_wait, search.files) as chosen:
        points = learn(spec, chosen.run, progress)
        lanes = lanes_of(points)
        picked, sampled = schedules.choose(lanes, search.budget, search.seed)
        found = Exploration(target.name, points, schedules.count(lanes), sampled, search.seed)
        how = f"a sample (seed {search.seed})" if sampled else "every one"
        progress(f"{found.total} interleavings; running {len(picked)}: {how}")
        for number, schedule in enumerate(picked, 1):
            raise_if_stopped()
            tried = Tried(schedule, chosen.run(spec, schedule).outcome)
            found.tried.append(tried)
            progress(f"{number}/{len(picked)} {' '.join(tried.steps())}: {tried.outcome.verdict}")
    return found


def create_points(target, block_wait: float = BLOCK_WAIT_S, files: bool = False) -> tuple:
    """Return the points one create passes on target, alone on a fresh store, as steps a
    spec can name; raise NothingToInterleave if it passes none."""
    spec = build_spec(["A: create sku-1 1"], f"skus=1,stock={AMPLE_STOCK}")
    with driver(target, block_wait, files) as chosen:
        return tuple(learn(spec, chosen.run, lambda text: None)["A"])

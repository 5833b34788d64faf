"""Which interleavings to run: every one while they number at most the budget, else a
seeded sample that favours few preemptions, as PCT does (Burckhardt et al., ASPLOS 2010).

A lane is one session's steps in its own order, [('A', 'read'), ('A', 'write')]; a
schedule is one merge of the lanes that keeps each lane's order.
"""

import math
import random

STALE_DRAWS = 1000  # draws in a row that found nothing new before PCT goes one level deeper


def count(lanes: list[list[tuple]]) -> int:
    """Return how many interleavings the lanes have (a multinomial)."""
    sizes = [len(lane) for lane in lanes]
    return math.factorial(sum(sizes)) // math.prod(math.factorial(n) for n in sizes)


def every(lanes: list[list[tuple]]) -> list[list[tuple]]:
    """Return every interleaving of the lanes."""
    if not any(lanes):
        return [[]]
    found = []
    for i, lane in enumerate(lanes):
        if lane:
            rest = [*lanes[:i], lane[1:], *lanes[i + 1 :]]
            found += [[lane[0], *tail] for tail in every(rest)]
    return found


def switches(schedule: list[tuple]) -> int:
    """Return how often the schedule moves from one session to another."""
    return sum(a[0] != b[0] for a, b in zip(schedule, schedule[1:], strict=False))


def shortest_first(schedules: list[list[tuple]]) -> list[list[tuple]]:
    """Return the schedules ordered by fewest switches, then fewest steps, then by name."""
    return sorted(schedules, key=lambda s: (switches(s), len(s), s))


def pct(lanes: list[list[tuple]], depth: int, rng: random.Random) -> list[tuple]:
    """Return one PCT schedule of the given depth (at most depth - 1 preemptions): each
    session gets a random priority, the highest with steps left runs, and at depth - 1
    random steps the running session drops below every other."""
    total = sum(map(len, lanes))
    starting = rng.sample(range(depth, depth + len(lanes)), len(lanes))
    priority = dict(enumerate(starting))
    at = rng.sample(range(1, total + 1), min(depth - 1, total))
    changes = {step: low for low, step in enumerate(at)}  # every low below every starting
    left = [list(lane) for lane in lanes]
    schedule: list[tuple] = []
    while len(schedule) < total:
        lane = max((i for i in priority if left[i]), key=priority.__getitem__)
        schedule.append(left[lane].pop(0))
        if len(schedule) in changes:
            priority[lane] = changes[len(schedule)]
    return schedule


def sample(lanes: list[list[tuple]], budget: int, seed: int) -> list[list[tuple]]:
    """Return up to budget distinct PCT schedules, depth 1 first, each depth drawn until it
    stops giving new ones; the same seed gives the same list."""
    rng, seen = random.Random(seed), set[tuple]()
    chosen: list[list[tuple]] = []
    total = sum(map(len, lanes))
    for depth in range(1, total + 1):
        stale = 0
        while stale < STALE_DRAWS and len(chosen) < budget:
            schedule = pct(lanes, depth, rng)
            key = tuple(schedule)
            stale = stale + 1 if key in seen else 0
            if key not in seen:
                seen.add(key)
                chosen.append(schedule)
        if len(chosen) >= budget:
            break
    return chosen


def choose(lanes: list[list[tuple]], budget: int, seed: int) -> tuple[list[list[tuple]], bool]:
    """Return (the schedules to run, whether they are a sample rather than all of them)."""
    lanes = [lane for lane in lanes if lane]
    if count(lanes) <= budget:
        return shortest_first(every(lanes)), False
    return sample(lanes, budget, seed), True

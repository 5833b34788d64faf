"""The contention measure and the writes that overlapped one, over sorted runs on disk.

A partitioned check (checker/partitioned.py) sorts each partition's spans and saves them;
here they are read back memory-mapped and merged a bounded step at a time, so a history
of any length is measured in the same memory. The figures are checker/contention.py's,
by another road: that module counts, per write, the starts before its end less the ends
before its start; here the same sums come from one sweep over the merged starts (pairs =
n(n-1)/2 less, per start, the ends at or before it), which a merge can feed.
"""

import heapq
from pathlib import Path
from typing import Literal

import numpy as np

from checker.contention import NOT_SENT, _met

STEP = 1 << 20  # starts merged at a time, over all runs together (and a batch of groups)
Side = Literal["left", "right"]
ALONE = -2  # the group of a write with no sku of its own or inherited: overlaps none


class Runs:
    """Each partition's sorted arrays, saved as files and read back a window at a time."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.numbers: list[int] = []

    def save(self, number: int, **arrays: np.ndarray) -> None:
        """Save one partition's arrays, by name."""
        for name, array in arrays.items():
            np.ascontiguousarray(array).tofile(self.folder / f"{name}-{number}")
            (self.folder / f"{name}-{number}.dtype").write_text(array.dtype.str)
        self.numbers.append(number)

    def load(self, name: str) -> list["OnDisk"]:
        """Return every partition's array of one name, on disk."""
        return [OnDisk(self.folder / f"{name}-{n}") for n in self.numbers]


class OnDisk:
    """A sorted array in a file, read a window at a time: the pages a memory map would
    touch would count as the process's own, and a sweep touches every page."""

    WINDOW = 1 << 12  # values read at once at the end of a search

    def __init__(self, path: Path, start: int = 0, stop: int | None = None):
        self.path, self.dtype = path, np.dtype(Path(f"{path}.dtype").read_text())
        whole = path.stat().st_size // self.dtype.itemsize
        self.start, self.stop = start, whole if stop is None else stop

    @property
    def size(self) -> int:
        return self.stop - self.start

    def __getitem__(self, at):
        if isinstance(at, slice):
            begin, end, _ = at.indices(self.size)
            return self._read(self.start + begin, max(0, end - begin))
        return self._read(self.start + at, 1)[0]

    def window(self, begin: int, end: int) -> "OnDisk":
        """Return the part from begin to end, on disk still."""
        return OnDisk(self.path, self.start + begin, self.start + end)

    def _read(self, offset: int, count: int) -> np.ndarray:
        return np.fromfile(self.path, self.dtype, count, offset=offset * self.dtype.itemsize)

    def searchsorted(self, value, side: Side = "left") -> int:
        """Return np.searchsorted(self, value, side), halving on disk down to one window."""
        low, high = self.start, self.stop  # the answer lies in [low, high]
        while high - low > self.WINDOW:
            middle = (low + high) // 2
            probe = self._read(middle, 1)[0]
            if probe < value or (side == "right" and probe == value):
                low = middle + 1
            else:
                high = middle
        return low - self.start + int(np.searchsorted(self._read(low, high - low), value, side))


def save_spans(runs: Runs, number: int, spans: dict) -> None:
    """Save one partition's spans sorted every way the measure and the examples read them.

    spans: t0, t1, index (each write's place in the history), locator and group (its sku's
    global code, ALONE, or NOT_SENT), in history order.
    """
    t0, t1, group = spans["t0"], spans["t1"], spans["group"]
    by_start = np.argsort(t0, kind="stable")  # ties in history order, as the examples read
    counted = (group != NOT_SENT) & (t1 > t0)  # sent, and lasting: a span of no length meets none
    grouped = counted & (group != ALONE)
    by_group_start = np.lexsort((t0[grouped], group[grouped]))
    by_group_end = np.lexsort((t1[grouped], group[grouped]))
    groups, group_sizes = np.unique(group[grouped], return_counts=True)
    runs.save(
        number,
        t0=t0[by_start],
        t1=t1[by_start],
        index=spans["index"][by_start],
        locator=spans["locator"][by_start],
        start=np.sort(t0[counted]),
        end=np.sort(t1[counted]),
        group_start=group[grouped][by_group_start],
        grouped_start=t0[grouped][by_group_start],
        group_end=group[grouped][by_group_end],
        grouped_end=t1[grouped][by_group_end],
        groups=groups,
        group_sizes=group_sizes,
    )


def measure(runs: Runs, writes: int, alone: bool) -> dict:
    """Return checker/contention.py's figures from the saved runs.

    writes: the writes that were sent; alone: whether one of them, lasting, had no group
    (it stands alone, in flight with nothing of its sku: depth 1).
    """
    same_store, _ = sweep(runs.load("start"), runs.load("end"))
    pairs, depth = 0, int(alone)
    for found, most in _by_group(runs):
        pairs, depth = pairs + found, max(depth, most)
    return {"writes": writes, "overlaps": pairs, "store_overlaps": same_store, "max_depth": depth}


def _by_group(runs: Runs):
    """Yield (pairs, depth) of each sku group: a group of STEP writes or more swept over
    the runs on disk; smaller ones a batch of STEP at a time, in memory, as
    checker/contention.py counts them."""
    groups = [run[:] for run in runs.load("groups")]
    sizes = [run[:] for run in runs.load("group_sizes")]
    ends = [np.cumsum(size) for size in sizes]  # where each group ends, in each run
    names = np.unique(np.concatenate(groups)) if groups else np.zeros(0, np.int32)
    totals = np.zeros(names.size, np.int64)
    for held, size in zip(groups, sizes, strict=True):
        totals[np.searchsorted(names, held)] += size
    batch: list = []  # consecutive small groups
    held = 0  # the writes they hold
    for name, total in zip(names.tolist(), totals.tolist(), strict=True):
        if batch and (total >= STEP or held + total > STEP):
            # A batch is read as one window of every run: never past a group left out.
            yield from _batch(runs, groups, ends, batch)
            batch, held = [], 0
        if total >= STEP:
            yield sweep(*_windows(runs, groups, ends, [name]))
        else:
            batch.append(name)
            held += total
    if batch:
        yield from _batch(runs, groups, ends, batch)


def _windows(runs: Runs, groups: list, ends: list, names: list) -> tuple[list, list]:
    """Return, per run, the window of its starts and of its ends that holds these groups
    (consecutive groups: every run holds them one after another)."""
    starts, finishes = [], []
    for start, finish, held, end in zip(
        runs.load("grouped_start"), runs.load("grouped_end"), groups, ends, strict=True
    ):
        begin, stop = _rows(held, end, names)[2:]
        starts.append(start.window(begin, stop))
        finishes.append(finish.window(begin, stop))
    return starts, finishes


def _rows(held: np.ndarray, end: np.ndarray, names: list) -> tuple[int, int, int, int]:
    """Return where a run lists the groups from names[0] to names[-1] (lo, hi), and where
    their rows lie (begin, stop)."""
    lo = int(np.searchsorted(held, names[0], "left"))
    hi = int(np.searchsorted(held, names[-1], "right"))
    begin = int(end[lo - 1]) if lo else 0
    stop = int(end[hi - 1]) if hi else 0
    return lo, hi, begin, max(begin, stop)


def _batch(runs: Runs, groups: list, ends: list, names: list):
    """Yield (pairs, depth) of each of a batch of small groups, read whole."""
    starts, finishes = _windows(runs, groups, ends, names)
    labels = []
    for held, last in zip(groups, ends, strict=True):
        lo, hi = _rows(held, last, names)[:2]
        labels.append(np.repeat(held[lo:hi], np.diff(np.concatenate(([0], last)))[lo:hi]))
    label = np.concatenate(labels)
    start = np.concatenate([w[:] for w in starts])
    end = np.concatenate([w[:] for w in finishes])
    start, end = start[np.lexsort((start, label))], end[np.lexsort((end, label))]
    label = np.sort(label, kind="stable")
    for members in np.split(np.arange(label.size), np.flatnonzero(np.diff(label)) + 1):
        if members.size:
            met, most = _met(start[members], end[members], True)
            yield (met - members.size) // 2, most


def sweep(starts: list, ends: list) -> tuple[int, int]:
    """Return the pairs of spans that overlapped and the most in flight at once.

    starts and ends: the spans' starts and their ends, each a list of sorted runs (a span
    lasts: it ends after it starts). Merged a step at a time, up to a bound every run has
    passed, so ties never straddle two steps.
    """
    total = sum(int(run.size) for run in starts)
    if total == 0:
        return 0, 0
    step = max(1, STEP // len(starts))
    heads, tails = [0] * len(starts), [0] * len(ends)
    begun = ended = before = depth = 0
    while True:
        left = [(run, at) for run, at in zip(starts, heads, strict=True) if at < run.size]
        if not left:
            break
        bound = min(run[min(at + step, run.size) - 1] for run, at in left)
        chunk, done = _taken(starts, heads, bound), _taken(ends, tails, bound)
        # Per start: the ends at or before it (they met nothing after), the starts up to it.
        at_or_before = ended + np.searchsorted(done, chunk, "right")
        started = begun + np.searchsorted(chunk, chunk, "right")
        before += int(at_or_before.sum())
        depth = max(depth, int((started - at_or_before).max()))
        begun, ended = begun + chunk.size, ended + done.size
    return total * (total - 1) // 2 - before, depth


def _taken(runs: list, heads: list, bound) -> np.ndarray:
    """Take from each run its values up to bound (moving its head on); return them sorted."""
    pieces = []
    for k, run in enumerate(runs):
        stop = run.searchsorted(bound, "right")
        pieces.append(np.asarray(run[heads[k] : stop]))
        heads[k] = stop
    return np.sort(np.concatenate(pieces)) if pieces else np.zeros(0)


def overlapping(runs: Runs, at: tuple, longest: float, limit: int) -> list[int]:
    """Return the locators of up to limit writes whose spans overlap one write's, in the
    order of their starts (ties in history order), as HistoryFacts.overlapping finds them.

    at: that write's (index, t0, t1); longest: the longest span of any write.
    """
    index, t0, t1 = at
    found = []
    for starts, ends, indices, locators in zip(
        *(runs.load(name) for name in ("t0", "t1", "index", "locator")), strict=True
    ):
        begin, end = starts.searchsorted(t0 - longest), starts.searchsorted(t1)
        met = np.flatnonzero((indices[begin:end] != index) & (ends[begin:end] > t0))[:limit]
        found += [
            (float(starts[begin + m]), int(indices[begin + m]), int(locators[begin + m]))
            for m in met.tolist()
        ]
    return [locator for _, _, locator in heapq.nsmallest(limit, found)]

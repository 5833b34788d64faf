"""How hard the writes contended: overlapping pairs of writes, from the history's time spans.

A run with one client, or with think times so long that no two writes overlapped, cannot
show a race, so a clean store after it proves nothing. `held` needs evidence: at least
MIN_OVERLAPS pairs of writes on the same sku whose [t0, t1] spans overlapped. Below it the
verdict is `inconclusive` (docs/contract.md, "Check report").
"""

from array import array

MIN_OVERLAPS = 100
NOT_SENT = -1  # the sku slot of a write that never reached the server
CHUNK = 1 << 18  # writes asked about at once


def contention(t0: array, t1: array, sku: array) -> dict:
    """Return overlapping write pairs on the same sku and in the same store, and the depth."""
    import numpy as np  # here, not at the top: the CLI reads MIN_OVERLAPS at every start

    start = np.frombuffer(t0, dtype=np.float64)
    end = np.frombuffer(t1, dtype=np.float64)
    group = np.frombuffer(sku, dtype=np.int32)
    sent = group != NOT_SENT
    if not sent.all():  # a copy of a million writes only when some were never sent
        start, end, group = start[sent], end[sent], group[sent]
    same_sku, depth = _overlaps(start, end, group)
    same_store, _ = _overlaps(start, end, None, depth_too=False)
    return {
        "writes": int(group.size),
        "overlaps": same_sku,
        "store_overlaps": same_store,
        "max_depth": depth,
    }


def _overlaps(start, end, group, depth_too: bool = True) -> tuple[int, int]:
    """Count pairs in one group whose spans overlap, and the most in flight at once.

    group None: all writes are one group.
    """
    import numpy as np

    # A span of no length overlaps nothing (overlap is strict: max(t0) < min(t1)).
    lasting = end > start
    if not lasting.all():
        start, end = start[lasting], end[lasting]
        group = None if group is None else group[lasting]
    pairs, depth = 0, 0
    for members in _groups(group) if start.size else ():
        # A history is written as requests end, so its times are nearly in order: a stable
        # sort (timsort) finds the runs, 2-5x faster than numpy's default quicksort here.
        starts, ends = np.sort(start[members], kind="stable"), np.sort(end[members], kind="stable")
        met, most = _met(starts, ends, depth_too)
        pairs += (met - starts.size) // 2
        depth = max(depth, most)
    return pairs, depth


def _met(starts, ends, depth_too: bool) -> tuple[int, int]:
    """Return the sum over writes of the writes each met (itself included), and the depth.

    Write i meets every j that started before i ended, less those that ended before i began;
    each pair is met from both sides. A sum and a maximum over all writes do not depend on
    their order, so the writes are asked in sorted order (numpy searches sorted keys several
    times faster: 0.5 s less at 1M) and a chunk at a time: this runs in a thread beside the
    checks (checker/report.py), and whole-size answers would add 30 MB to the peak at 1M.
    """
    import numpy as np

    met, depth = 0, 0
    for at in range(0, starts.size, CHUNK):
        begun, done = starts[at : at + CHUNK], ends[at : at + CHUNK]
        ended = np.searchsorted(ends, begun, "right")  # by each write's start, in start order
        met += int(np.searchsorted(starts, done, "left").sum()) - int(ended.sum())
        if depth_too:
            depth = max(depth, int((np.searchsorted(starts, begun, "right") - ended).max()))
    return met, depth


def _groups(group):
    """Yield the positions of each group's writes (group None: every write, as one group)."""
    import numpy as np

    if group is None:
        yield slice(None)
        return
    order = np.argsort(group, kind="stable")
    yield from np.split(order, np.flatnonzero(np.diff(group[order])) + 1)

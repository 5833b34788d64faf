"""How hard the writes contended: overlapping pairs of writes, from the history's time spans.

A run with one client, or with think times so long that no two writes overlapped, cannot
show a race, so a clean store after it proves nothing. `held` needs evidence: at least
MIN_OVERLAPS pairs of writes on the same sku whose [t0, t1] spans overlapped. Below it the
verdict is `inconclusive` (docs/contract.md, "Check report").
"""

from array import array

MIN_OVERLAPS = 100
NOT_SENT = -1  # the sku slot of a write that never reached the server


def contention(t0: array, t1: array, sku: array) -> dict:
    """Return overlapping write pairs on the same sku and in the same store, and the depth."""
    import numpy as np  # here, not at the top: the CLI reads MIN_OVERLAPS at every start

    start = np.frombuffer(t0, dtype=np.float64)
    end = np.frombuffer(t1, dtype=np.float64)
    group = np.frombuffer(sku, dtype=np.int32)
    sent = group != NOT_SENT
    start, end, group = start[sent], end[sent], group[sent]
    same_sku, depth = _overlaps(start, end, group)
    same_store, _ = _overlaps(start, end, np.zeros_like(group))
    return {
        "writes": int(group.size),
        "overlaps": same_sku,
        "store_overlaps": same_store,
        "max_depth": depth,
    }


def _overlaps(start, end, group) -> tuple[int, int]:
    """Count pairs in one group whose spans overlap, and the most in flight at once."""
    import numpy as np

    # A span of no length overlaps nothing (overlap is strict: max(t0) < min(t1)).
    lasting = end > start
    start, end, group = start[lasting], end[lasting], group[lasting]
    pairs, depth = 0, 0
    order = np.lexsort((start, group))
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for members in np.split(order, bounds) if order.size else ():
        s, e = start[members], end[members]
        starts, ends = np.sort(s), np.sort(e)
        # Write i meets every j that started before i ended, less those that ended before i
        # began, less itself; each pair is met from both sides.
        met = np.searchsorted(starts, e, side="left") - np.searchsorted(ends, s, side="right") - 1
        pairs += int(met.sum()) // 2
        active = np.searchsorted(starts, s, side="right") - np.searchsorted(ends, s, side="right")
        depth = max(depth, int(active.max()))
    return pairs, depth

"""Pick, from a run's history, the few requests that explain one anomaly example.

A token's example starts from that token's writes; a sku's (stock_mismatch, oversold) from
the ok writes on the sku, two creates if any two overlapped. The partner is the write that
overlapped it longest, on the same sku if any did: two requests that were in the server at
once are what a race needs. They are put in the order they finished in the run: in the
reproduction every session reads, then they write in that order, so the one that wrote last
in the run writes last again.
"""

from dataclasses import dataclass

from history.format import WRITE_OPS
from shapes.reports import Example

MOST = 3  # requests in one reproduction


@dataclass
class Writes:
    """A history's write records, by start time, with each token's records."""

    records: list[dict]
    by_token: dict[str, list[dict]]
    faults: bool = False  # the run was killed on purpose (compare --faults kill)


def read_writes(history) -> Writes:
    """Read every create and cancel record of a history (streamed or in memory) once."""
    records = [dict(r) for _, r in history.entries() if r["op"] in WRITE_OPS]
    records.sort(key=lambda r: r["t0"])
    by_token: dict[str, list[dict]] = {}
    for record in records:
        if record["token"] is not None:
            by_token.setdefault(record["token"], []).append(record)
    return Writes(records, by_token)


def is_retry(chosen: list[dict]) -> bool:
    """Say whether the requests are one token sent more than once (a client's retry)."""
    return len(chosen) > 1 and len({r["token"] for r in chosen}) == 1


def pick(anomaly: str, example: Example, writes: Writes) -> list[dict]:
    """Return the records (at most MOST, by start time) that explain one example."""
    tokens = example.tokens or []
    if isinstance(example.sku, str):
        on_sku = [r for r in writes.records if r["sku"] == example.sku and r["type"] == "ok"]
        # Two creates first: every strategy reads, computes and writes the stock for a
        # create, while a cancel's give-back may be one atomic increment (sqlite:naive's),
        # so two cancels, however long they overlapped, need not race at all.
        creates = [r for r in on_sku if r["op"] == "create"]
        chosen = _longest_overlap(creates) or _longest_overlap(on_sku)
    elif tokens:
        chosen = _for_tokens(anomaly, tokens, writes)
    else:  # the store as a whole (corrupt_store): two overlapping writes of unequal size
        chosen = _longest_overlap([r for r in writes.records if r["type"] != "fail"], _size)
        # The longer write goes first: the shorter one, written over it from the same
        # offset, leaves the longer one's tail behind (a torn file).
        return sorted(chosen, key=_size, reverse=True)
    return sorted(chosen, key=lambda r: r["t1"])[:MOST]


def _size(record: dict) -> int:
    """Return how much the record's order adds to a written store beyond any other's: its
    token and qty (skus are renamed sku-1, sku-2 in a reproduction, so theirs do not count)."""
    return len(str(record["token"])) + len(str(record["qty"]))


def _for_tokens(anomaly: str, tokens: list[str], writes: Writes) -> list[dict]:
    own = [r for t in tokens for r in writes.by_token.get(t, [])[:MOST]]
    if not own:
        return []
    creates = [r for r in own if r["op"] == "create"]
    if len(tokens) == 1 and len(creates) > 1:
        return creates[:2]  # one token sent twice: the retry is the reproduction
    if len(tokens) > 1:  # the tokens that shared one id: their first writes
        return [writes.by_token[t][0] for t in tokens if writes.by_token.get(t)][:MOST]
    cancels = [r for r in own if r["op"] == "cancel" and r["type"] == "ok"]
    # A resurrected order's story is its cancel, and a stale copy written over it.
    anchor = cancels[0] if anomaly == "resurrected" and cancels else (creates or own)[0]
    partner = _partner(anchor, writes.records)
    return [anchor] + ([partner] if partner else [])


def _overlap(a: dict, b: dict) -> float:
    return min(a["t1"], b["t1"]) - max(a["t0"], b["t0"])


def _partner(anchor: dict, records: list[dict]) -> dict | None:
    """Return the write that overlapped anchor longest, preferring one handed the same id,
    then its sku, then an ok one."""
    rivals = [r for r in records if r is not anchor and r["token"] != anchor["token"]
              and r["type"] != "fail" and _overlap(anchor, r) > 0]  # fmt: skip
    if not rivals:
        return None
    return max(
        rivals,
        key=lambda r: (
            r["order_id"] is not None and r["order_id"] == anchor["order_id"],
            r["sku"] == anchor["sku"],
            r["type"] == "ok",
            _overlap(anchor, r),
        ),
    )


def _longest_overlap(records: list[dict], differ=None) -> list[dict]:
    """Return two records whose spans overlap longest (and differ by `differ`); one sweep."""
    best, best_pair, reach = 0.0, [], None  # reach: the record seen so far that ends last
    for record in records:
        if reach is not None and (differ is None or differ(reach) != differ(record)):
            overlap = _overlap(reach, record)
            if overlap > best:
                best, best_pair = overlap, [reach, record]
        if reach is None or record["t1"] > reach["t1"]:
            reach = record
    return best_pair

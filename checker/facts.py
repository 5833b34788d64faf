"""What a history and a store say, indexed once for every check to share."""

import bisect
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field

RANK = {"fail": 0, "info": 1, "ok": 2}  # the strongest evidence about one token wins
WRITE_OPS = ("create", "cancel")


def _stronger(old: str | None, new: str) -> str:
    return new if old is None or RANK[new] > RANK[old] else old


@dataclass
class HistoryFacts:
    """What the clients did, per token."""

    initial: dict
    create_outcome: dict = field(default_factory=dict)  # token -> ok | info | fail
    sent: dict = field(default_factory=dict)  # token -> (sku, qty) as sent
    acked_id: dict = field(default_factory=dict)  # token -> id in an ok answer
    tokens_by_acked_id: dict = field(default_factory=lambda: defaultdict(set))
    cancel_outcome: dict = field(default_factory=dict)  # token -> ok | info | fail
    cancelled_id: dict = field(default_factory=dict)  # token -> id an ok cancel removed
    writes: list = field(default_factory=list)  # create/cancel records by t0
    by_token: dict = field(default_factory=lambda: defaultdict(list))
    counts: dict = field(default_factory=dict)
    starts: list = field(default_factory=list)  # t0 of writes, sorted
    longest: float = 0.0  # longest write, in seconds

    def overlapping(self, record: dict, limit: int = 5) -> list[dict]:
        """Return up to limit write records whose time span overlaps record's."""
        begin = bisect.bisect_left(self.starts, record["t0"] - self.longest)
        end = bisect.bisect_left(self.starts, record["t1"])
        found = (r for r in self.writes[begin:end] if r is not record and r["t1"] > record["t0"])
        return list(itertools.islice(found, limit))


def history_facts(history) -> HistoryFacts:
    """Index a parsed history's writes by token and id."""
    facts = HistoryFacts(initial=dict(history.run["items"]))
    counts = {op: Counter() for op in WRITE_OPS}
    for record in history.ops:
        op = record["op"]
        if op not in WRITE_OPS or record["token"] is None:
            continue
        counts[op][record["type"]] += 1
        facts.writes.append(record)
        facts.by_token[record["token"]].append(record)
        (_note_create if op == "create" else _note_cancel)(facts, record)
    facts.writes.sort(key=lambda r: r["t0"])
    facts.starts = [r["t0"] for r in facts.writes]
    facts.longest = max((r["t1"] - r["t0"] for r in facts.writes), default=0.0)
    facts.counts = {
        f"{op}s": {t: counts[op][t] for t in ("ok", "fail", "info")} for op in WRITE_OPS
    }
    return facts


def _note_create(facts: HistoryFacts, record: dict) -> None:
    token = record["token"]
    facts.create_outcome[token] = _stronger(facts.create_outcome.get(token), record["type"])
    facts.sent.setdefault(token, (record["sku"], record["qty"]))
    if record["type"] == "ok" and record["order_id"] is not None:
        facts.acked_id[token] = record["order_id"]
        facts.tokens_by_acked_id[record["order_id"]].add(token)


def _note_cancel(facts: HistoryFacts, record: dict) -> None:
    token = record["token"]
    facts.cancel_outcome[token] = _stronger(facts.cancel_outcome.get(token), record["type"])
    if record["type"] == "ok":
        facts.cancelled_id[token] = record["order_id"]


@dataclass
class StoreIndex:
    """A store's orders indexed by token and id; repeats kept apart, since they are rare."""

    by_token: dict = field(default_factory=dict)
    repeated_tokens: dict = field(default_factory=lambda: defaultdict(list))
    by_id: dict = field(default_factory=dict)
    repeated_ids: dict = field(default_factory=lambda: defaultdict(list))
    qty_by_sku: Counter = field(default_factory=Counter)


def index_store(snapshot) -> StoreIndex:
    """Index a snapshot's well-formed orders."""
    index = StoreIndex()
    for order in snapshot.orders:
        order_id, sku, qty, token = order
        _put(index.by_token, index.repeated_tokens, token, order)
        _put(index.by_id, index.repeated_ids, order_id, order)
        index.qty_by_sku[sku] += qty
    return index


def _put(first: dict, repeats: dict, key, order) -> None:
    if key in first:
        if key not in repeats:
            repeats[key].append(first[key])
        repeats[key].append(order)
    else:
        first[key] = order

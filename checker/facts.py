"""What a history and a store say, indexed once for every check to share.

Built to hold a million operations in well under a gigabyte: one small slotted object per
token, write times in flat arrays, and the history records themselves left in the file
until an example needs one.
"""

import bisect
import itertools
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from operator import itemgetter

import msgspec

from checker.contention import NOT_SENT
from history import WRITE_OPS

FAIL, INFO, OK = 0, 1, 2  # outcome ranks: the strongest evidence about one token wins
RANK = {"fail": FAIL, "info": INFO, "ok": OK}
OUTCOMES = ("fail", "info", "ok")
NONE = -1  # "no write" in the integer arrays


class TokenFacts(msgspec.Struct, gc=False):
    """What the history says about one token."""

    created: int = NONE  # strongest create outcome (FAIL, INFO, OK) or NONE if never sent
    sent_sku: str | None = None  # the sku and qty of the first create that named both
    sent_qty: int | None = None
    acked_id: int | None = None  # id in an ok create's answer
    cancelled: int = NONE  # strongest cancel outcome, or NONE
    cancelled_id: int | None = None  # id an ok cancel removed
    last_write: int = NONE  # index of the token's latest write record


@dataclass
class HistoryFacts:
    """What the clients did, per token, with each write's time span kept for examples."""

    initial: dict
    tokens: dict = field(default_factory=dict)  # token -> TokenFacts
    collisions: dict = field(default_factory=dict)  # id -> tokens that were all acked it
    counts: dict = field(default_factory=dict)
    locators: array = field(
        default_factory=lambda: array("q")
    )  # write index -> its record's locator
    fetch: object = None  # locator -> record
    t0: array = field(default_factory=lambda: array("d"))
    t1: array = field(default_factory=lambda: array("d"))
    previous: array = field(default_factory=lambda: array("q"))  # same token's prior write
    sku: array = field(default_factory=lambda: array("i"))  # each write's sku number
    _by_start: list | None = None

    def outcome(self, token) -> str | None:
        """Return the strongest create outcome of token by name, or None if never sent."""
        known = self.tokens.get(token)
        return None if known is None or known.created == NONE else OUTCOMES[known.created]

    def record(self, index: int) -> dict:
        """Return the write record at index."""
        return self.fetch(self.locators[index])

    def write_indices(self, token) -> list[int]:
        """Return the indices of token's write records, in history order."""
        known = self.tokens.get(token)
        indices, index = [], NONE if known is None else known.last_write
        while index != NONE:
            indices.append(index)
            index = self.previous[index]
        return indices[::-1]

    def records(self, token, limit: int = 5) -> list[dict]:
        """Return up to limit of token's write records, in history order."""
        return [self.record(i) for i in self.write_indices(token)[:limit]]

    def overlapping(self, index: int, limit: int = 5) -> list[dict]:
        """Return up to limit write records whose time span overlaps the one at index."""
        starts, order, longest = self._start_order()
        t0, t1 = self.t0[index], self.t1[index]
        begin = bisect.bisect_left(starts, t0 - longest)
        end = bisect.bisect_left(starts, t1)
        found = (i for i in order[begin:end] if i != index and self.t1[i] > t0)
        return [self.record(i) for i in itertools.islice(found, limit)]

    def _start_order(self):
        """Sort the writes by start time once, on the first example that needs it."""
        if self._by_start is None:
            order = sorted(range(len(self.t0)), key=self.t0.__getitem__)
            starts = [self.t0[i] for i in order]
            longest = max((b - a for a, b in zip(self.t0, self.t1, strict=True)), default=0.0)
            self._by_start = [starts, order, longest]
        return self._by_start


def history_facts(history) -> HistoryFacts:
    """Index a history's writes by token and id, reading its records once, in order.

    history is a history.History (records in memory) or a history.HistoryStream (records in
    a file); either yields (locator, Op) and fetches a record again by its locator.
    """
    facts = HistoryFacts(initial=dict(history.run["items"]), fetch=history.record_at)
    counts = {op: [0, 0, 0] for op in WRITE_OPS}
    first_token_by_id, skus, sku_numbers = {}, {}, {}
    tokens, locators = facts.tokens, facts.locators
    # Bound once: this loop runs a million times for a million-operation history.
    new_token, add_locator, add_previous = TokenFacts, locators.append, facts.previous.append
    add_t0, add_t1, add_sku = facts.t0.append, facts.t1.append, facts.sku.append
    spare = new_token()
    for block_locators, records in history.typed_blocks():
        for locator, record in zip(block_locators, records, strict=True):
            op, token = record.op, record.token
            if token is None and op == "cancel":  # a history that names cancels by id only
                token = first_token_by_id.get(record.order_id)
            if token is None or op not in counts:
                continue
            rank = RANK[record.type]
            counts[op][rank] += 1
            known = tokens.setdefault(token, spare)  # one lookup, for a token seen or new
            if known is spare:
                spare = new_token()
            add_previous(known.last_write)
            known.last_write = len(locators)
            add_locator(locator)
            add_t0(record.t0)
            add_t1(record.t1)
            if op == "create":
                _note_create(facts, known, record, rank, first_token_by_id, skus)
            else:
                _note_cancel(known, record, rank)
            add_sku(_sku_number(record, known, rank, sku_numbers))
    facts.counts = {f"{op}s": dict(zip(OUTCOMES, counts[op], strict=True)) for op in WRITE_OPS}
    facts.collisions = {i: sorted(tokens) for i, tokens in facts.collisions.items()}
    return facts


def _sku_number(record, known, rank, numbers: dict) -> int:
    """Number the write's sku for the contention measure; NOT_SENT if it never got there."""
    if rank == FAIL and record.status is None:
        return NOT_SENT  # refused or unsent: nothing reached the server
    sku = record.sku or known.sent_sku
    if sku is None:  # a sku of its own: it contends with the store, with no sku known
        sku = ("unknown", len(numbers))
    number = numbers.get(sku)
    if number is None:
        number = numbers[sku] = len(numbers)
    return number


def _note_create(facts, known, record, rank, first_token_by_id, skus) -> None:
    if rank > known.created:
        known.created = rank
    if known.sent_sku is None and record.sku is not None and record.qty is not None:
        known.sent_sku = skus.setdefault(record.sku, record.sku)  # one copy of each sku
        known.sent_qty = record.qty
    order_id = record.order_id
    if rank == OK and order_id is not None:
        known.acked_id = order_id
        holder = first_token_by_id.setdefault(order_id, record.token)
        if holder != record.token:
            facts.collisions.setdefault(order_id, {holder}).add(record.token)


def _note_cancel(known, record, rank) -> None:
    if rank > known.cancelled:
        known.cancelled = rank
    if rank == OK:
        known.cancelled_id = record.order_id


@dataclass
class StoreIndex:
    """A store's orders indexed by token; repeated tokens and ids kept apart, being rare."""

    by_token: dict = field(default_factory=dict)
    repeated_tokens: dict = field(default_factory=lambda: defaultdict(list))
    repeated_ids: dict = field(default_factory=lambda: defaultdict(list))
    qty_by_sku: Counter = field(default_factory=Counter)
    # What ill-typed orders still say: their tokens are stored (so not lost), and their
    # skus' stock cannot be added up (ANY_SKU: an order whose sku is unreadable too).
    malformed_tokens: set = field(default_factory=set)
    uncertain_skus: set = field(default_factory=set)

    def stock_known(self, sku) -> bool:
        """Say whether every stored order of sku could be counted."""
        return ANY_SKU not in self.uncertain_skus and sku not in self.uncertain_skus

    def holds_token(self, token) -> bool:
        """Say whether token is stored, in a well-formed order or an ill-typed one."""
        return token in self.by_token or token in self.malformed_tokens


ANY_SKU = object()


def index_store(snapshot) -> StoreIndex:
    """Index a snapshot's well-formed orders, and what its ill-typed ones still tell."""
    index, orders = StoreIndex(), snapshot.orders
    index.by_token = dict(zip(map(itemgetter(3), orders), orders, strict=True))
    if len(index.by_token) < len(orders) or len(set(map(itemgetter(0), orders))) < len(orders):
        _index_repeats(index, orders)  # rare: only a broken store repeats a token or an id
    qty_by_sku = index.qty_by_sku
    for _, sku, qty, _ in orders:
        qty_by_sku[sku] += qty
    for bad in snapshot.malformed:
        fields = bad if isinstance(bad, dict) else {}
        token, sku = fields.get("token"), fields.get("sku")
        if isinstance(token, str):
            index.malformed_tokens.add(token)
        index.uncertain_skus.add(sku if isinstance(sku, str) else ANY_SKU)
    return index


def _index_repeats(index: StoreIndex, orders) -> None:
    """Index orders one by one, the first of each token kept, every repeat listed apart."""
    index.by_token, by_id = {}, {}
    for order in orders:
        _put(index.by_token, index.repeated_tokens, order[3], order)
        _put(by_id, index.repeated_ids, order[0], order)


def _put(first: dict, repeats: dict, key, order) -> None:
    if key in first:
        if key not in repeats:
            repeats[key].append(first[key])
        repeats[key].append(order)
    else:
        first[key] = order

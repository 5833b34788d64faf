"""Tokens numbered by their hash at numpy speed, checked against the strings themselves.

A million distinct tokens in a dictionary cost about two seconds on a small machine (a
cache miss per insert); hashing them with Python's own str hash and grouping the integers
with numpy costs about half that. Two tokens that share a 64-bit hash would be merged, so
every token is compared with the first token of its group, and on any mismatch the table
is built again by dictionary: exact whatever the input (docs/benchmarks.md, section 4).
"""

import itertools
from operator import eq

import numpy as np

from checker.sorting import stable_order

NONE = -1


class TokenTable:
    """Distinct tokens, each with a code; codes sort by hash, names by first appearance."""

    def __init__(self, tokens: list):
        """Number every token of tokens (no None among them)."""
        self.tokens = tokens  # every occurrence, in order: names are read from it
        hashes = np.fromiter(map(hash, tokens), np.int64, len(tokens))
        self.hashes, self.first, self.codes = numbered(hashes)
        # A token that is the first of its hash group is itself; every later one must equal
        # its group's first, or two tokens share a hash.
        firsts = self.first[self.codes]
        later = np.flatnonzero(firsts != np.arange(len(tokens)))
        get = tokens.__getitem__
        if not all(map(eq, map(get, later.tolist()), map(get, firsts[later].tolist()))):
            self._by_dictionary()

    def _by_dictionary(self) -> None:
        """Number the tokens exactly, for the input in which two share a hash."""
        index: dict = {}
        codes = [index.setdefault(t, len(index)) for t in self.tokens]
        self.codes = np.array(codes, dtype=np.int64)
        self.first = np.full(len(index), len(self.tokens), np.int64)
        np.minimum.at(self.first, self.codes, np.arange(len(self.tokens)))
        self.hashes = None
        self._index = index

    def __len__(self) -> int:
        return int(self.first.size)

    def name(self, code: int) -> str:
        """Return the token a code stands for."""
        return self.tokens[self.first[code]]

    def names(self, codes) -> list:
        """Return the tokens for codes, in order of first appearance."""
        return [self.tokens[i] for i in np.sort(self.first[codes]).tolist()]

    def lookup(self, tokens, count: int, hashes=None, order=None) -> np.ndarray:
        """Return the code of each of count tokens (NONE for one not in the table).

        hashes: the tokens' str hashes, if already computed (checker.store_index.index_store), and
        order, their stable order (checker.sorting), if that is too.
        """
        if self.hashes is None:
            get = self._index.get
            return np.fromiter(map(get, tokens, itertools.repeat(NONE)), np.int64, count)
        tokens = list(tokens)
        if not len(self):
            return np.full(count, NONE, np.int64)
        if hashes is None:
            hashes = np.fromiter(map(hash, tokens), np.int64, count)
        at = np.minimum(_searched(self.hashes, hashes, order), len(self) - 1)
        found = self.hashes[at] == hashes
        # Same hash is not same token: confirm each match against the table's own string.
        named = map(self.tokens.__getitem__, self.first[at].tolist())
        same = np.fromiter(map(eq, tokens, named), bool, count)
        return np.where(found & same, at, NONE)

    def code(self, token) -> int:
        """Return one token's code, or NONE."""
        return int(self.lookup([token], 1)[0])


def _searched(table: np.ndarray, keys: np.ndarray, order=None) -> np.ndarray:
    """Return np.searchsorted(table, keys), the keys asked in sorted order (order: their
    argsort, when it is known already)."""
    # numpy's binary search is about four times faster on sorted keys (it keeps the last
    # bound); sorting 800,000 keys and putting the answers back costs less than it saves.
    # The store's keys are sorted while the history is still being read (index_store).
    order, ordered = stable_order(keys) if order is None else (order, keys[order])
    at = np.empty(keys.size, np.int64)
    at[order] = np.searchsorted(table, ordered)
    return at


def numbered(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return what np.unique(values, return_index=True, return_inverse=True) returns.

    The same three arrays, two to three times as fast: the order comes from a stable sort
    of the values with their positions packed beside them (checker/sorting.py), so the
    first of each run of equal values is its first position.
    """
    count = values.size
    if count == 0:
        return values.copy(), np.zeros(0, np.int64), np.zeros(0, np.int64)
    order, ordered = stable_order(values)
    new = np.empty(count, bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    distinct, first = ordered[starts], order[starts]
    del ordered
    group = np.cumsum(new, dtype=np.int64)
    group -= 1
    codes = np.empty(count, np.int64)
    codes[order] = group
    return distinct, first, codes

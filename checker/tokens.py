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

NONE = -1


class TokenTable:
    """Distinct tokens, each with a code; codes sort by hash, names by first appearance."""

    def __init__(self, tokens: list):
        """Number every token of tokens (no None among them)."""
        self.tokens = tokens  # every occurrence, in order: names are read from it
        hashes = np.fromiter(map(hash, tokens), np.int64, len(tokens))
        self.hashes, self.first, self.codes = np.unique(
            hashes, return_index=True, return_inverse=True
        )
        if not all(map(eq, tokens, map(tokens.__getitem__, self.first[self.codes].tolist()))):
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

    def lookup(self, tokens, count: int) -> np.ndarray:
        """Return the code of each of count tokens (NONE for one not in the table)."""
        if self.hashes is None:
            get = self._index.get
            return np.fromiter(map(get, tokens, itertools.repeat(NONE)), np.int64, count)
        tokens = list(tokens)
        hashes = np.fromiter(map(hash, tokens), np.int64, count)
        at = np.minimum(np.searchsorted(self.hashes, hashes), max(len(self) - 1, 0))
        if not len(self):
            return np.full(count, NONE, np.int64)
        found = self.hashes[at] == hashes
        # Same hash is not same token: confirm each match against the table's own string.
        named = map(self.tokens.__getitem__, self.first[at].tolist())
        same = np.fromiter(map(eq, tokens, named), bool, count)
        return np.where(found & same, at, NONE)

    def code(self, token) -> int:
        """Return one token's code, or NONE."""
        return int(self.lookup([token], 1)[0])

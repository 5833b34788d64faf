"""A history's tokens numbered by polars: each distinct token a code, by hash, with a check
for collisions; whether a store repeats a token or an id (checker/engine.py reads the
history; checker/store_index.py the store)."""

import numpy as np
import polars as pl

from checker.columns import NONE


class Tokens:
    """The history's distinct tokens, each with a code: its hash's rank among theirs.

    Numbered by a 64-bit hash, at polars' speed on integers (strings sort and join several
    times slower at 10M); two tokens that share a hash are told apart by their strings.
    """

    def __init__(self, tokens: pl.Series):
        self.tokens = tokens  # every write's token, in history order
        hashes = tokens.hash()
        codes = (hashes.rank("dense") - 1).cast(pl.Int32).to_numpy()
        self.first = _firsts(codes)
        # In code order: sorted. None: two tokens share a hash, so they are found by string.
        self.keys: np.ndarray | None = hashes.gather(self.first).to_numpy()
        if not (tokens.gather(self.first[codes]) == tokens).all():  # two share a hash
            codes = (tokens.rank("dense") - 1).cast(pl.Int32).to_numpy()
            self.first, self.keys = _firsts(codes), None
        self.codes = codes

    def __len__(self) -> int:
        return int(self.first.size)

    def name(self, code: int) -> str:
        """Return the token a code stands for."""
        return self.tokens[int(self.first[code])]

    def names(self, codes) -> list:
        """Return the tokens for codes, in order of first appearance."""
        return self.tokens.gather(np.sort(self.first[codes])).to_list()

    def lookup(self, tokens) -> np.ndarray:
        """Return the code of each token, a Series or a list (NONE for one not in the table)."""
        asked = tokens if isinstance(tokens, pl.Series) else token_series(tokens)
        if not len(self) or not len(asked):
            return np.full(len(asked), NONE, np.int64)
        if self.keys is None:  # two tokens share a hash: by string
            table = pl.DataFrame({"key": self.tokens.gather(self.first)})
            found = pl.DataFrame({"key": asked}).join(
                table.with_row_index("code"), on="key", how="left", maintain_order="left"
            )["code"]
            return found.fill_null(NONE).cast(pl.Int64).to_numpy()
        # The keys are sorted: a binary search finds each hash's code, then each match is
        # confirmed against the table's own string (same hash is not same token).
        codes = np.minimum(_searched(self.keys, asked.hash()), len(self) - 1)
        same = (self.tokens.gather(self.first[codes]) == asked).fill_null(False).to_numpy()
        return np.where(same, codes, NONE)

    def code(self, token) -> int:
        """Return one token's code, or NONE."""
        return int(self.lookup([token])[0])


def _searched(keys: np.ndarray, asked: pl.Series) -> np.ndarray:
    """Return np.searchsorted(keys, asked), asked in sorted order (four times faster)."""
    order = asked.arg_sort().to_numpy()
    found = np.empty(order.size, np.int64)
    found[order] = np.searchsorted(keys, asked.to_numpy()[order])
    return found


def _firsts(codes: np.ndarray) -> np.ndarray:
    """Return the first position of each code."""
    count = int(codes.max()) + 1 if codes.size else 0
    first = np.full(count, codes.size, np.int64)
    np.minimum.at(first, codes, np.arange(codes.size))
    return first


def token_series(strings) -> pl.Series:
    """Return strings as a Series; a lone surrogate's string (read through an API) as null.

    polars holds UTF-8 only. A string with a lone surrogate cannot be a token polars read
    from a history (those are read by the careful reader, whose tokens are numbered by
    DictTokens): as null it matches none, and may_repeat counts two of them as a repeat.
    """
    if isinstance(strings, pl.Series):
        return strings
    strings = strings if isinstance(strings, list) else list(strings)
    try:
        return pl.Series(strings, dtype=pl.String)
    except UnicodeEncodeError:
        return pl.Series([_utf8_or_none(s) for s in strings], dtype=pl.String)


def _utf8_or_none(text: str) -> str | None:
    try:
        text.encode()
    except UnicodeEncodeError:
        return None
    return text


def may_repeat(tokens: pl.Series, ids: np.ndarray) -> bool:
    """Say whether two stored orders may share a token or an id (two tokens' hashes count)."""
    if tokens.hash().n_unique() < len(tokens):
        return True
    if ids.dtype == object:  # an id beyond int64: Python compares them
        return len(set(ids.tolist())) < len(ids)
    return pl.Series(ids).n_unique() < len(ids)

"""checker/sorting.py's stable order against numpy's own stable argsort, on any integers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checker.sorting import MAX_RUNS, stable_order

INT64 = st.integers(-(2**63), 2**63 - 1)
# Values that share all but their low bits, as two hashes sometimes do: the packed key
# cannot tell them apart and the runs they make must be put in order afterwards.
NEAR = st.tuples(st.integers(-8, 8), st.integers(0, 2**20)).map(lambda t: (t[0] << 40) + t[1])
VALUES = st.lists(st.one_of(INT64, NEAR, st.integers(-3, 3)), max_size=300)


def argsorted(values: np.ndarray) -> list:
    return np.argsort(values, kind="stable").tolist()


@given(VALUES)
def test_the_order_is_numpys_stable_argsort(values):
    values = np.array(values, np.int64)
    order, ordered = stable_order(values)
    assert order.tolist() == argsorted(values)
    assert ordered.tolist() == sorted(values.tolist())


@given(st.lists(st.integers(0, 2**31 - 1), max_size=200))
def test_small_values_are_packed_whole_and_keep_their_type(values):
    values = np.array(values, np.int32)
    order, ordered = stable_order(values)
    assert order.tolist() == argsorted(values)
    assert ordered.dtype == np.int32


@pytest.mark.parametrize("runs", [3, MAX_RUNS + 1])
def test_values_sharing_their_high_bits_are_settled_one_run_at_a_time_or_all_by_numpy(runs):
    # Every pair shares its high bits, the larger first: a run to settle per pair.
    pairs = [(-(2**62) + (k << 40) + 1, -(2**62) + (k << 40)) for k in range(runs)]
    values = np.array([v for pair in pairs for v in pair], np.int64)
    assert stable_order(values)[0].tolist() == argsorted(values)


def test_a_million_hashes_come_out_in_order():
    values = np.random.default_rng(7).integers(-(2**63), 2**63 - 1, 10**6, dtype=np.int64)
    values[::1000] = values[0]  # ties keep their positions' order
    order, ordered = stable_order(values)
    assert np.array_equal(order, np.argsort(values, kind="stable"))
    assert np.array_equal(ordered, np.sort(values))

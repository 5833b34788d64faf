"""The step matrix on the SQLite and PostgreSQL targets (the JSON ones:
test_step_matrix_files.py)."""

import pytest

from tests.step_matrix import TARGETS, cells_on


@pytest.mark.parametrize("target", [t for t in TARGETS if not t.startswith("json:")])
def test_every_shipped_spec_gives_its_expected_cells(target):
    got, expected = cells_on(target)
    assert got == expected

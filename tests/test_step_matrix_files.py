"""The step matrix on the JSON-file targets (the SQL ones: test_step_matrix_sql.py)."""

import pytest

from tests.step_matrix import TARGETS, cells_on


@pytest.mark.parametrize("target", [t for t in TARGETS if t.startswith("json:")])
def test_every_shipped_spec_gives_its_expected_cells(target):
    got, expected = cells_on(target)
    assert got == expected

"""Each lab's commands run as written (a load no request bound sizes is shortened) and give
the outcome the lab states."""

from benchmarks.labs import LABS, compares, explore_table, matrix_tables, promises, steppings
from tests.lab_outcomes import lab_outcome_test

# The compare labs are split over three files by index, so that xdist's processes (one a
# file) run them side by side: this one takes shard 0 (tests/lab_outcomes.py).
test_lab_outcome = lab_outcome_test(0)


def test_the_step_lab_keeps_its_matrix_and_its_by_hand_promises(tmp_path):
    lab = next(lab for lab in LABS if lab.stem.startswith("07"))
    found = promises(lab.read_text())
    assert len(found) == 3  # the matrix, and two key sequences typed by hand
    for what, run_once in found:
        assert run_once(tmp_path) == [], what


def test_a_step_lab_matrix_is_read_as_written():
    lab = next(lab for lab in LABS if lab.stem.startswith("07"))
    (matrix,) = matrix_tables(lab.read_text())
    interleaved = matrix["A.read B.read A.write B.write"]
    assert interleaved["sqlite:naive@1"] == "stock_mismatch"
    assert interleaved["sqlite:transactional@1"] == "held (blocked)"


def test_a_lab_that_promises_a_failure_is_sized_by_requests():
    for lab in LABS:
        for command, expected in compares(lab.read_text()):
            # Kills land at moments of the run's duration, so a kill lab is sized by time;
            # its failing target (naive JSON under 50 VUs) is wrecked in the first second.
            if "--faults kill" in command:
                continue
            if any(verdict == "failed" for verdict, _ in expected.values()):
                assert "--max-requests" in command, (lab.stem, command)


def test_the_any_server_lab_explores_as_it_says(tmp_path):
    # Its two step commands are run, and their tables held, by tests/test_step_interpose.py;
    # its explore of the pg twin, and its promise held, by tests/test_explore.py.
    lab = next(lab for lab in LABS if lab.stem.startswith("10"))
    assert len(steppings(lab.read_text())) == 2
    found = [(what, run_once) for what, run_once in promises(lab.read_text())
             if what.startswith("lab10-explore") and what != "lab10-explore-pg"]  # fmt: skip
    assert len(found) == 2
    for what, run_once in found:
        assert run_once(tmp_path) == [], what


def test_the_any_server_labs_explore_table_is_read_as_written():
    lab = next(lab for lab in LABS if lab.stem.startswith("10"))
    table = explore_table(lab.read_text())
    assert table["pg"] == (1, "2 failed, of 6 of 20 interleavings", ["stock_mismatch", "oversold"])
    assert table["pg-for-update"] == (0, "every one held: 6 of 252 interleavings", [])

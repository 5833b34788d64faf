"""Each lab's commands run as written (a load no request bound sizes is shortened) and give
the outcome the lab states."""

import pytest

from benchmarks.labs import (
    LABS,
    OUT,
    compares,
    explore_table,
    lab_commands,
    matrix_tables,
    mismatches,
    promises,
    run_command,
    run_compare,
)
from checker.report import EXIT_CODES

COMPARE_LABS = [lab for lab in LABS if "racelab compare" in lab.read_text()]


@pytest.mark.parametrize("lab", COMPARE_LABS, ids=[lab.stem for lab in COMPARE_LABS])
def test_lab_outcome(lab, tmp_path):
    text = lab.read_text()
    reports = {}
    for command, expected in compares(text):
        report = run_compare(command, tmp_path)
        assert mismatches(report, expected) == []
        reports[OUT.search(command).group(1)] = report
    # Checks of a compare's output; the by-hand ones need a server of the reader's own.
    for command in (
        c for c in lab_commands(text) if c.startswith("racelab check") and OUT.search(c)
    ):
        out, target_dir = OUT.search(command).group(1), command.split("/")[2]
        entry = next(t for t in reports[out]["targets"] if t["dir"] == target_dir)
        result = run_command(command, tmp_path)
        assert result.returncode == EXIT_CODES[entry["verdict"]], result.stderr
        assert "verdict:" in result.stdout


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


def test_the_any_server_lab_steps_and_explores_as_it_says(tmp_path):
    lab = next(lab for lab in LABS if lab.stem.startswith("10"))
    found = promises(lab.read_text())
    assert len(found) == 5  # two stepped matrices, three explores
    for what, run_once in found:
        assert run_once(tmp_path) == [], what


def test_the_any_server_labs_explore_table_is_read_as_written():
    lab = next(lab for lab in LABS if lab.stem.startswith("10"))
    table = explore_table(lab.read_text())
    assert table["pg"] == (1, "2 failed, of 6 of 20 interleavings", ["stock_mismatch", "oversold"])
    assert table["pg-for-update"] == (0, "every one held: 6 of 252 interleavings", [])

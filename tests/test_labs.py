"""Each lab's commands run as written (a load no request bound sizes is shortened) and give
the outcome the lab states."""

import pytest

from benchmarks.labs import LABS, OUT, compares, lab_commands, mismatches, run_command, run_compare
from checker.report import EXIT_CODES


@pytest.mark.parametrize("lab", LABS, ids=[lab.stem for lab in LABS])
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


def test_a_lab_that_promises_a_failure_is_sized_by_requests():
    for lab in LABS:
        for command, expected in compares(lab.read_text()):
            # Kills land at moments of the run's duration, so a kill lab is sized by time;
            # its failing target (naive JSON under 50 VUs) is wrecked in the first second.
            if "--faults kill" in command:
                continue
            if any(verdict == "failed" for verdict, _ in expected.values()):
                assert "--max-requests" in command, (lab.stem, command)

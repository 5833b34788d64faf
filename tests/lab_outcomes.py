"""The compare labs' outcome test, split into shards so that several test files (each one
xdist process under --dist loadfile) run the labs side by side."""

import pytest

from benchmarks.labs import LABS, OUT, compares, lab_commands, mismatches, run_command, run_compare
from checker.report import EXIT_CODES

COMPARE_LABS = [lab for lab in LABS if "racelab compare" in lab.read_text()]
SHARDS = 3


def lab_outcome_test(shard: int):
    """Return the outcome test over every SHARDS-th compare lab, from shard on."""
    labs = COMPARE_LABS[shard::SHARDS]

    @pytest.mark.parametrize("lab", labs, ids=[lab.stem for lab in labs])
    def test_lab_outcome(lab, tmp_path):
        text = lab.read_text()
        reports = {}
        for command, expected in compares(text):
            report = run_compare(command, tmp_path)
            missed = mismatches(report, expected)
            assert missed == [], missed  # not a test module: pytest rewrites no assert here
            reports[OUT.search(command).group(1)] = report
        # Checks of a compare's output; the by-hand ones need a server of the reader's own.
        for command in (
            c for c in lab_commands(text) if c.startswith("racelab check") and OUT.search(c)
        ):
            out, target_dir = OUT.search(command).group(1), command.split("/")[2]
            entry = next(t for t in reports[out].targets if t.dir == target_dir)
            result = run_command(command, tmp_path)
            assert result.returncode == EXIT_CODES[entry.verdict], result.stderr
            assert "verdict:" in result.stdout

    return test_lab_outcome

"""The compare labs of shard 2: each lab's compares give the verdicts its table states
(tests/lab_outcomes.py)."""

from tests.lab_outcomes import lab_outcome_test

test_lab_outcome = lab_outcome_test(2)

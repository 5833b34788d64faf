"""racelab's oracle: reads a store by its documented format and a history, finds anomalies.

It never imports `servers`: a bug in a store must not be able to hide itself.
"""

from checker.contention import MIN_OVERLAPS
from checker.report import check, exit_code

__all__ = ["MIN_OVERLAPS", "check", "exit_code"]

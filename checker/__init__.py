"""racelab's oracle: reads a store by its documented format and a history, finds anomalies.

It never imports `servers`: a bug in a store must not be able to hide itself.
"""

from checker.contention import MIN_OVERLAPS

__all__ = ["MIN_OVERLAPS", "check", "exit_code"]


def __getattr__(name: str):
    """Import the checks on first use: `racelab serve` needs only a constant from here."""
    if name in ("check", "exit_code"):
        from checker import report

        return getattr(report, name)
    raise AttributeError(f"module 'checker' has no attribute {name!r}")

"""racelab: make write races visible."""

__version__ = "0.1.0"

"""Load shapes: durations, ranges, ramping stages, scenario presets and arrival rates."""

import re

from racelab.exceptions import BadInput

DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)?")
UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class ShapeError(BadInput, ValueError):
    """A shape argument that does not parse; the message names it."""


def parse_duration(text: str) -> float:
    """Return seconds for '30s', '500ms', '2m', '1h' or a bare number of seconds."""
    match = DURATION.fullmatch(text.strip())
    if not match:
        raise ShapeError(f"{text!r} is not a duration (try 30s, 500ms, 2m)")
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)]


def parse_range(text: str, unit_parser=float) -> tuple:
    """Return (low, high) for '1-3' or '0.1-0.5s'; a single value is a range of one."""
    parts = text.split("-")
    if len(parts) == 1:
        parts = [text, text]
    elif len(parts) == 2 and parts[1][-1:].isalpha() and not parts[0][-1:].isalpha():
        # "0.1-0.5s": the unit written once applies to both ends.
        parts[0] += re.sub(r"[\d.]", "", parts[1])
    if len(parts) != 2:
        raise ShapeError(f"{text!r} is not a range (try 1-3 or 0.1-0.5s)")
    try:
        low, high = unit_parser(parts[0]), unit_parser(parts[1])
    except ValueError:
        raise ShapeError(f"{text!r} is not a range (try 1-3 or 0.1-0.5s)") from None
    if low < 0 or high < low:
        raise ShapeError(f"{text!r} must go from a low value up to a high one")
    return low, high


def parse_stages(text: str) -> list[tuple[float, int]]:
    """Return [(seconds, target_vus)] for '10s:20,20s:100,10s:0' (k6's ramping-vus)."""
    stages = []
    for part in text.split(","):
        duration, sep, target = part.strip().partition(":")
        if not sep or not target.strip().isdigit():
            raise ShapeError(f"stage {part.strip()!r} is not DURATION:VUS (e.g. 10s:20)")
        stages.append((parse_duration(duration), int(target)))
    return stages


def parse_rate(text: str) -> float:
    """Return requests per second for '500/s', '30/m' or '500'."""
    number, _, unit = text.partition("/")
    per = {"": 1.0, "s": 1.0, "m": 60.0}.get(unit.strip())
    try:
        rate = float(number) / per if per else None
    except ValueError:
        rate = None
    if not rate or rate <= 0:
        raise ShapeError(f"{text!r} is not a rate (try 500/s)")
    return rate


def scenario_stages(name: str, vus: int, duration: float) -> list[tuple[float, int]]:
    """Return the stages of a preset, scaled to vus (the normal load) and duration."""
    d = duration
    shapes = {
        # Ramp up, hold the normal load, ramp down.
        "load": [(0.1 * d, vus), (0.8 * d, vus), (0.1 * d, 0)],
        # Step up past the normal load, toward the breaking point: 1x, 2x, 3x, 4x.
        "stress": [
            (0.1 * d, vus),
            (0.1 * d, vus),
            (0.1 * d, 2 * vus),
            (0.1 * d, 2 * vus),
            (0.1 * d, 3 * vus),
            (0.1 * d, 3 * vus),
            (0.1 * d, 4 * vus),
            (0.2 * d, 4 * vus),
            (0.1 * d, 0),
        ],
        # Normal load, a sudden jump to 10x for a short window, and back.
        "spike": [
            (0.05 * d, vus),
            (0.35 * d, vus),
            (0.02 * d, 10 * vus),
            (0.1 * d, 10 * vus),
            (0.03 * d, vus),
            (0.4 * d, vus),
            (0.05 * d, 0),
        ],
        # A moderate load held for a long time.
        "soak": [(0.02 * d, vus), (0.96 * d, vus), (0.02 * d, 0)],
    }
    return shapes[name]


def vus_at(stages: list[tuple[float, int]], t: float, start: int = 0) -> int:
    """Return the VU target at time t: linear ramps between stage targets, like k6."""
    level = start
    for duration, target in stages:
        if t < duration:
            return round(level + (target - level) * (t / duration)) if duration else target
        t -= duration
        level = target
    return level


def total_duration(stages: list[tuple[float, int]]) -> float:
    """Return the summed length of the stages."""
    return sum(duration for duration, _ in stages)

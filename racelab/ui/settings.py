"""Turn a POST /api/runs body into compare's targets and Settings, or say what is wrong."""

from loadtests.plan import WORKLOADS, default_mix
from racelab.compare.settings import WORKLOAD_VUS, Settings
from racelab.exceptions import BadInput

FAULTS = ("kill", "power-loss", "retry")
MAX_DURATION_S = 3600.0


class BadSettings(BadInput, ValueError):
    """A run's settings that compare cannot take; the message names the bad value."""


def run_settings(body) -> tuple[list, Settings]:
    """Return (targets, Settings) for a JSON body, or raise BadSettings."""
    if not isinstance(body, dict):
        raise BadSettings("the body must be a JSON object of compare's settings")
    known = {"targets", "vus", "duration", "seed", "mix", "faults", "workload"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise BadSettings(f"unknown setting {unknown[0]!r}")
    targets = _targets(body.get("targets"))
    workload = _workload(body.get("workload", "orders"))
    settings = Settings(
        vus=_int(body, "vus", WORKLOAD_VUS[workload], 1, 2000),
        seed=_int(body, "seed", Settings.seed, -(2**63), 2**63 - 1),
        duration=_duration(body.get("duration", Settings.duration)),
        workload=workload,
        mix=default_mix(workload),
    )
    if body.get("mix") is not None:
        settings.mix = _mix(body["mix"])
    _faults(body.get("faults"), settings)
    return targets, settings


def _targets(value) -> list:
    """Return the target specs named by a list (or a comma-separated string)."""
    from loadtests.target import TargetError
    from racelab.compare.external import parse_url_target
    from racelab.compare.targets import TargetSpecError, parse_spec

    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise BadSettings("targets must be a non-empty list such as ['json:naive@1']")
    try:
        return [parse_url_target(t) if t.startswith("url:") else parse_spec(t) for t in value]
    except (TargetSpecError, TargetError) as e:
        raise BadSettings(str(e)) from None


def _workload(value) -> str:
    if value not in WORKLOADS:
        raise BadSettings(f"workload must be one of {', '.join(WORKLOADS)}, not {value!r}")
    return value


def _int(body: dict, name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadSettings(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return value


def _duration(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadSettings(f"duration must be a number of seconds, not {value!r}")
    if not 0 < value <= MAX_DURATION_S:
        raise BadSettings(f"duration must be above 0 and at most {MAX_DURATION_S:g} s, not {value}")
    return float(value)


def _mix(value) -> dict:
    """Return {op: weight} from 'create=70,...' or an object of weights."""
    from loadtests.plan import MixError, parse_mix

    if isinstance(value, dict):
        value = ",".join(f"{op}={weight}" for op, weight in value.items())
    if not isinstance(value, str):
        raise BadSettings(f"mix must be 'create=70,cancel=10,...' or an object, not {value!r}")
    try:
        return parse_mix(value)
    except MixError as e:
        raise BadSettings(f"mix: {e}") from None


def _faults(value, settings: Settings) -> None:
    """Apply a fault as `racelab compare --faults` does."""
    if value in (None, "", "none"):
        return
    if value not in FAULTS:
        raise BadSettings(f"faults must be one of {', '.join(FAULTS)}, not {value!r}")
    if value == "power-loss":
        from racelab.interpose.mount import fuse_problem

        problem = fuse_problem()
        if problem:
            raise BadSettings(f"faults power-loss needs FUSE: {problem}")
    from racelab.cli.compare import RETRY_FAULT

    settings.faults = value
    if value == "retry":
        settings.retries = RETRY_FAULT.retries
        settings.timeout = min(settings.timeout, RETRY_FAULT.timeout)
        settings.delay = RETRY_FAULT.delay

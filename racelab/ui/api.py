"""The UI's API (docs/contract.md, "The UI's API"): the pages are its clients, and so may a
script be."""

import itertools
import json

from flask import Blueprint, Response, current_app, jsonify, request

from racelab.exceptions import RacelabError
from racelab.ui.runs import RunUnderWay
from racelab.ui.settings import BadSettings, run_settings
from racelab.ui.stepping import StepInputError, StepSession, spec_from

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_STEP_SESSIONS = 3  # each is a server of its own
_step_ids = itertools.count(1)


class UiApiError(RacelabError):
    """An answer in the contract's error shape."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error(status: int, code: str, message: str):
    """Return the contract's error body with its status."""
    return jsonify({"error": code, "message": message}), status


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise UiApiError(400, "bad_json", "the body must be a JSON object")
    return body


def _runs():
    return current_app.extensions["racelab.runs"]


def _steps() -> dict:
    return current_app.extensions["racelab.steps"]


@bp.post("/runs")
def start_run():
    """Start a compare run; answer where its events are."""
    try:
        specs, settings = run_settings(_body())
        run = _runs().start(specs, settings)
    except BadSettings as e:
        raise UiApiError(400, "bad_settings", str(e)) from None
    except RunUnderWay as e:
        raise UiApiError(409, "busy", str(e)) from None
    return jsonify({"id": run.id, "events": f"/api/runs/{run.id}/events"}), 201


@bp.get("/runs")
def list_runs():
    """List the runs this app started, newest first."""
    runs = sorted(_runs().runs.values(), key=lambda r: r.id, reverse=True)
    return jsonify({"runs": [r.summary() for r in runs]})


def _run(run_id: str):
    run = _runs().runs.get(run_id)
    if run is None:
        raise UiApiError(404, "no_such_run", f"no run {run_id!r} was started here")
    return run


@bp.get("/runs/<run_id>")
def show_run(run_id: str):
    """Return one run's summary."""
    return jsonify(_run(run_id).summary())


@bp.get("/runs/<run_id>/events")
def run_events(run_id: str):
    """Stream the run's events from its first, one JSON object per event."""
    log = _run(run_id).log

    def stream():
        for event in log.follow():
            yield ": idle\n\n" if event is None else f"data: {json.dumps(event)}\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(stream(), mimetype="text/event-stream", headers=headers)


@bp.post("/runs/<run_id>/stop")
def stop_run(run_id: str):
    """End the run's load at once; answer once its servers stopped and its report is written."""
    run = _run(run_id)
    run.stop(wait=120)
    return jsonify(run.summary())


@bp.post("/step")
def start_step():
    """Start a stepped server for a spec on a target; answer its id."""
    from racelab.compare.targets import TargetSpecError, parse_spec
    from racelab.step.spec import check_targets

    body = _body()
    try:
        spec = spec_from(body.get("spec"))
        target = parse_spec(str(body.get("target", "")))
        check_targets(spec, [target])
        permutation = _permutation(body.get("permutation", 1), spec)
    except (StepInputError, TargetSpecError, ValueError) as e:
        raise UiApiError(400, "bad_step", str(e)) from None
    steps = _steps()
    if len(steps) >= MAX_STEP_SESSIONS:
        oldest = min(steps, key=int)
        steps.pop(oldest).close()  # a class moves on; its first table's server goes
    session = StepSession(str(next(_step_ids)), spec, target)
    steps[session.id] = session
    with session.lock:
        session.begin(permutation)
    return jsonify({"id": session.id, **session.state()}), 201


def _permutation(value, spec) -> int:
    """Return a permutation number, 1 to len(permutations), or 0 for every point a click."""
    count = len(spec.permutations)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= count:
        raise StepInputError(f"permutation must be 0 (free) or 1 to {count}, not {value!r}")
    return value


def _step(step_id: str) -> StepSession:
    session = _steps().get(step_id)
    if session is None:
        raise UiApiError(404, "no_such_step", f"no step session {step_id!r}")
    return session


@bp.get("/step/<step_id>")
def show_step(step_id: str):
    """Return the lanes, answers, store and verdict."""
    return jsonify(_step(step_id).state())


@bp.post("/step/<step_id>/release")
def release_step(step_id: str):
    """Release one session's next step; return the state after it."""
    session = _step(step_id)
    name = _body().get("session")
    with session.lock:
        try:
            session.release(str(name))
        except StepInputError as e:
            raise UiApiError(400, "bad_session", str(e)) from None
        return jsonify(session.state())


@bp.post("/step/<step_id>/reset")
def reset_step(step_id: str):
    """Reseed the store and ready a permutation (the next one unless one is named)."""
    session = _step(step_id)
    body = request.get_json(silent=True) or {}
    count = len(session.spec.permutations)
    default = session.permutation % count + 1 if session.permutation else 0
    try:
        permutation = _permutation(body.get("permutation", default), session.spec)
    except StepInputError as e:
        raise UiApiError(400, "bad_permutation", str(e)) from None
    with session.lock:
        session.begin(permutation)
        return jsonify(session.state())


@bp.post("/step/<step_id>/play-rest")
def play_rest(step_id: str):
    """Run the permutations not played yet and fill their cells; return the state."""
    session = _step(step_id)
    with session.lock:
        session.play_rest()
        return jsonify(session.state())


@bp.delete("/step/<step_id>")
def close_step(step_id: str):
    """Stop the session's server."""
    _steps().pop(_step(step_id).id).close()
    return jsonify({"closed": step_id})

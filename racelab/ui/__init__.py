"""`racelab ui`: a local web app where a class starts runs, watches them live, and steps
through races in the browser. create_app builds it, with its pages and the past runs they
read; racelab/cli/ui.py serves it."""

import hmac
from pathlib import Path

from flask import Flask, abort, jsonify, render_template, request, send_from_directory
from werkzeug.exceptions import HTTPException

from racelab.exceptions import RacelabError
from racelab.pages import JINJA_OPTIONS, STATIC, TEMPLATES
from racelab.ui.api import UiApiError, bp
from racelab.ui.runs import RunManager
from shapes.reports import CompareReport, read_shape


def create_app(config: dict | None = None) -> Flask:
    """Build the app: RUNS_DIR holds the runs, TOKEN (if set) is asked of every request,
    LIVE_CHECK False leaves the live checks out (to measure what they cost)."""
    app = Flask(__name__, template_folder=TEMPLATES, static_folder=STATIC)
    app.jinja_options = {**app.jinja_options, **JINJA_OPTIONS}
    app.config.update(RUNS_DIR="runs", TOKEN=None, LIVE_CHECK=True)
    app.config.update(config or {})
    runs = RunManager(Path(app.config["RUNS_DIR"]), app.config["LIVE_CHECK"])
    app.extensions["racelab.runs"] = runs
    app.extensions["racelab.steps"] = {}
    app.register_blueprint(bp)
    app.before_request(_require_token)
    app.register_error_handler(UiApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    _pages(app)
    return app


def close_app(app: Flask) -> None:
    """Stop every run and stepped server the app started."""
    app.extensions["racelab.runs"].stop_all()
    steps = app.extensions["racelab.steps"]
    while steps:
        steps.popitem()[1].close()


def _require_token():
    """Refuse a request without the token (set when the app listens beyond loopback)."""
    token = app_token()
    if token is None:
        return None
    given = request.args.get("token") or request.cookies.get("racelab_token") or ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        return jsonify({"error": "forbidden", "message": "this racelab ui asks for its token: "
                        "open the URL it printed"}), 403  # fmt: skip
    return None


def app_token() -> str | None:
    from flask import current_app

    return current_app.config["TOKEN"]


def _remember_token(response):
    """Keep the token in a cookie, so the page's own requests carry it."""
    token = app_token()
    if token and request.args.get("token") == token:
        response.set_cookie("racelab_token", token, httponly=True, samesite="Strict")
    return response


def _api_error(e: UiApiError):
    return jsonify({"error": e.code, "message": e.message}), e.status


def _http_error(e: HTTPException):
    """Answer every HTTP error in the contract's shape, never an HTML page."""
    code = (e.name or "error").lower().replace(" ", "_")
    return jsonify({"error": code, "message": e.description or e.name}), e.code


def _pages(app: Flask) -> None:
    """Register the three pages (Runs, Step, Past runs) and the runs folder's files."""
    app.after_request(_remember_token)

    @app.get("/")
    def runs_page():
        """The Runs page: the form, Start and Stop, live charts."""
        from loadtests.plan import WORKLOADS
        from racelab.compare.settings import WORKLOAD_VUS
        from racelab.compare.targets import MATRICES

        ladder = ",".join(s.name for s in MATRICES["ladder"])
        workloads = {name: (WORKLOAD_VUS[name], mix) for name, mix in WORKLOADS.items()}
        return render_template("runs.html", ladder=ladder, workloads=workloads, page="runs")

    @app.get("/step")
    def step_page():
        """The Step page: lanes to click, the store, the answers, the verdict."""
        from racelab.ui.stepping import spec_names

        return render_template("step.html", specs=spec_names(), page="step")

    _past_pages(app)


def _past_pages(app: Flask) -> None:
    """Register the Past runs page, its API and the runs folder's files."""

    @app.get("/past")
    def past_page():
        """The Past runs page: the runs folder, each run's verdicts, its report; with ?a=ID&b=ID
        two runs' verdict tables side by side."""
        runs_dir = Path(app.config["RUNS_DIR"])
        pair = None
        if request.args.get("a") and request.args.get("b"):
            pair = _pair(runs_dir, request.args["a"], request.args["b"])
        return render_template("past.html", runs=past_runs(runs_dir), pair=pair, page="past")

    @app.get("/api/past")
    def past_api():
        """List the runs folder's runs; with ?a=ID&b=ID, their verdicts side by side."""
        runs_dir = Path(app.config["RUNS_DIR"])
        if "a" in request.args or "b" in request.args:
            return jsonify(_pair(runs_dir, request.args.get("a", ""), request.args.get("b", "")))
        return jsonify({"runs": past_runs(runs_dir)})

    @app.get("/runs/<run_id>/<path:name>")
    def run_file(run_id: str, name: str):
        """Serve a run's report and its files."""
        runs_dir = Path(app.config["RUNS_DIR"]).resolve()
        if not (runs_dir / run_id).is_dir():
            abort(404)
        return send_from_directory(runs_dir / run_id, name)


def _pair(runs_dir: Path, first: str, second: str) -> dict:
    """Return two runs' verdicts side by side, or answer 404 if either has no report."""
    try:
        return side_by_side(runs_dir, first, second)
    except NoSuchRun as e:
        raise UiApiError(404, "no_such_run", str(e)) from None


def past_runs(runs_dir: Path) -> list[dict]:
    """Return every run in the folder that has a report, newest first, with its verdicts."""
    found = []
    for report in sorted(runs_dir.glob("*/report.json"), reverse=True):
        try:
            data = read_shape(report, CompareReport)
        except (OSError, ValueError):  # not JSON, or not the shape (msgspec.ValidationError)
            continue
        targets = [(f"{t.target}@{t.workers}", t.verdict.value) for t in data.targets]
        found.append({"id": report.parent.name, "targets": targets,
                      "stopped": data.stopped is True, "seconds": data.seconds})  # fmt: skip
    return found


class NoSuchRun(RacelabError, LookupError):
    """A run id with no report.json in the runs folder."""


def verdicts(runs_dir: Path, run_id: str) -> dict[str, str]:
    """Return {target@workers: verdict} of one run's report.json, in its order."""
    path = Path(runs_dir) / run_id / "report.json"
    if "/" in run_id or run_id.startswith(".") or not path.is_file():
        raise NoSuchRun(f"no run {run_id!r} with a report in {runs_dir}")
    try:
        report = read_shape(path, CompareReport)
    except (OSError, ValueError) as e:  # not JSON, or not the shape (msgspec.ValidationError)
        raise NoSuchRun(f"run {run_id!r}: its report.json is unreadable ({e})") from None
    return {f"{t.target}@{t.workers}": t.verdict.value for t in report.targets}


def side_by_side(runs_dir: Path, first: str, second: str) -> dict:
    """Return {"runs": [first, second], "rows": [{target, verdicts: [a, b]}]} (None: not run)."""
    a, b = verdicts(runs_dir, first), verdicts(runs_dir, second)
    targets = list(dict.fromkeys([*a, *b]))
    rows = [{"target": t, "verdicts": [a.get(t), b.get(t)], "same": a.get(t) == b.get(t)}
            for t in targets]  # fmt: skip
    return {"runs": [first, second], "rows": rows}

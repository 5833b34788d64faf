"""`racelab step --external 'NAME=COMMAND'`: step a server racelab did not write.

The server pauses at points its own code names, through the pause protocol
(docs/contract.md; examples/pause has a helper for Python and one for Node). It is started
from COMMAND with {port}, {data_dir}, {skus} and {stock} filled in, and the scheduler's
socket and secret in RACELAB_STEP_SOCKET and RACELAB_STEP_SECRET. The reset rule: racelab
cannot reseed a store whose format it does not know, so before each permutation the server
is stopped and started again on an emptied data dir. Its state is read through the API.
"""

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from racelab.compare.external import ExternalTarget, free_port
from racelab.compare.process import TargetFailed, spawn, stop_server, wait_for_health
from racelab.process_exit import finishing
from racelab.step.runner import Outcome, _drive
from racelab.step.scheduler import BLOCK_WAIT_S, Scheduler
from racelab.step.spec import Spec

NEVER_REACHED = "never reached"


def run_external(target: ExternalTarget, runs: list, block_wait: float = BLOCK_WAIT_S) -> list:
    """Run (spec, permutation) pairs in order, each on the server started afresh; mark the
    steps whose point the server reached in none of them."""
    work = Path(tempfile.mkdtemp(prefix="racelab-step-"))
    scheduler, outcomes, reached = None, [], []
    try:
        scheduler = Scheduler({}, block_wait)
        for spec, permutation in runs:
            outcomes.append(_run_one(target, scheduler, work, spec, permutation, reached))
    finally:
        with finishing():
            if scheduler is not None:
                scheduler.close()
            shutil.rmtree(work, ignore_errors=True)
    points = list(dict.fromkeys(reached))
    for outcome, (_, permutation) in zip(outcomes, runs, strict=True):
        _mark_never_reached(outcome, permutation, points)
    return outcomes


def _run_one(target, scheduler, work: Path, spec: Spec, permutation, reached: list) -> Outcome:
    """Start the server on an empty data dir, run one permutation, stop it; add the points
    its sessions arrived at to reached."""
    lanes = {s.name: [p for n, p in permutation if n == s.name] for s in spec.sessions}
    with started(target, scheduler, work, spec) as url:
        scheduler.begin(lanes)
        outcome = _drive(spec, target, permutation, scheduler, url, None)
        reached += [point for lane in scheduler.lanes.values() for point in lane.reached]
    return outcome


@contextlib.contextmanager
def started(target: ExternalTarget, scheduler: Scheduler, work: Path, spec: Spec):
    """Start COMMAND on an emptied data dir, check it holds the spec's setup; yield its URL."""
    data_dir = work / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir()
    port = free_port()
    values = {"port": port, "data_dir": data_dir, "skus": spec.skus, "stock": spec.stock}
    env = os.environ | {"RACELAB_STEP_SOCKET": scheduler.path,
                        "RACELAB_STEP_SECRET": scheduler.secret}  # fmt: skip
    process = _spawn(target, values, env, work / "server.log")
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_health(url, process)
        except TargetFailed as e:
            raise TargetFailed(f"{target.name} did not start: {e}{_last_line(work)}") from None
        _check_setup(target, url, spec)
        yield url
    finally:
        stop_server(process)


def _spawn(target: ExternalTarget, values: dict, env: dict, log_path: Path):
    """Start the command with the placeholders filled, in a process group of its own."""
    words = [_filled(word, values) for word in shlex.split(target.command)]
    with open(log_path, "w") as log:
        try:
            return spawn(
                words, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,
            )  # fmt: skip
        except OSError as e:
            raise TargetFailed(f"{target.name}: cannot start {words[0]!r}: {e.strerror}") from None


def _filled(word: str, values: dict) -> str:
    for key, value in values.items():
        word = word.replace("{" + key + "}", str(value))
    return word


def _last_line(work: Path) -> str:
    """Return '; its last line: ...' from the server's log, or '' if it printed nothing."""
    try:
        lines = (work / "server.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f"; its last line: {lines[-1].strip()[:200]}" if lines else ""


def _check_setup(target: ExternalTarget, url: str, spec: Spec) -> None:
    """Refuse a server that does not start with the spec's items: its history would lie."""
    want = {f"sku-{n}": spec.stock for n in range(1, spec.skus + 1)}
    try:
        with urllib.request.urlopen(f"{url}/items", timeout=10) as response:
            have = {i["sku"]: i["stock"] for i in json.loads(response.read(1 << 20))["items"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TargetFailed(f"{target.name}: GET /items did not answer the contract ({e})") from None
    if have != want:
        raise TargetFailed(
            f"{target.name} started with {len(have)} items, not the spec's setup of {spec.skus} "
            f"at {spec.stock}: give the command {{skus}} and {{stock}}"
        )


def _mark_never_reached(outcome: Outcome, permutation, points: list) -> None:
    """Say of each step whose point the server never arrived at which points it did.

    Only a point no session reached in any permutation: a step skipped because its request
    ended first (a 409 before the write) is skipped, as on a built-in target."""
    for (_, point), log in zip(permutation, outcome.steps, strict=False):
        if log.outcome in ("skipped", "not reached") and point not in points:
            log.outcome = f"{NEVER_REACHED}; the server reached {', '.join(points) or 'no point'}"


def never_reached(rows) -> list[str]:
    """Return 'A.lock on NAME never reached; the server reached read, write' for every such
    step in a matrix."""
    found = []
    for row in rows:
        for cell in row:
            for run in cell.runs:
                for log in run.steps:
                    if log.outcome.startswith(NEVER_REACHED):
                        found.append(f"{log.step} on {cell.target.name} {log.outcome}")
    return list(dict.fromkeys(found))

"""Run the contract's rules against a server, then a short concurrent load checked through the API.

Compute only: results go to a progress callback and are returned; the CLI formats them.
"""

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from racelab.conform.contract import RULES
from racelab.conform.rules import Broken, Client, State


@dataclass
class Result:
    """One rule's outcome."""

    name: str
    says: str
    passed: bool
    want: str = ""
    lines: list = field(default_factory=list)  # the request and answer that broke it


def run_rules(url: str, progress=None) -> list[Result]:
    """Check every rule in order; cancel every order the rules made; return the results."""
    progress = progress or (lambda result: None)
    state, results = State(Client(url)), []
    try:
        for name, rule in RULES.items():
            results.append(_run_rule(name, rule, state))
            progress(results[-1])
            if name == "health" and state.client.last.status is None:
                break  # nothing answers: the other rules would only say so again
    finally:
        _clean_up(state)
        state.client.close()
    return results


def _run_rule(name: str, rule, state: State) -> Result:
    try:
        rule.fn(state)
    except Broken as e:
        shown = e.exchange or state.client.last  # the last answer shows what was wrong
        lines = shown.lines() if shown else []
        return Result(name, rule.says, False, e.want, lines)
    return Result(name, rule.says, True)


def _clean_up(state: State) -> None:
    """Cancel what the rules created, so the server keeps the stock it had."""
    for order_id in state.made:
        state.client.send("DELETE", f"/orders/{order_id}")


MAX_REQUESTS = 20_000  # the concurrent run is a smoke test, bounded by count as well as time


@dataclass
class Concurrent:
    """The short concurrent run: its load summary and the check through the API."""

    summary: dict
    report: dict
    seed: int


def concurrent_run(url: str, seed: int, duration: float, vus: int) -> Concurrent:
    """Load the server with concurrent writes, then check its final state through the API."""
    from checker import check
    from checker.api import read_api
    from history import HistoryStream
    from loadtests.config import LoadConfig
    from loadtests.run import execute

    before = read_api(url)  # orders already there are not this run's: left out of the check
    existing = frozenset(before.orders) | frozenset(map(repr, before.malformed))
    config = LoadConfig(url=url, duration=duration, max_requests=MAX_REQUESTS, vus=vus, seed=seed)
    with tempfile.TemporaryDirectory(prefix="racelab-conform-") as work:
        history_path = Path(work) / "history.jsonl"
        summary, _ = execute(config, history_path)
        with HistoryStream(history_path) as history:
            report = check(url, history, existing=existing)
    return Concurrent(summary, report, seed)

"""Run the contract's rules against a server, then a short concurrent load checked through the API.

Compute only: results go to a progress callback and are returned; the CLI formats them.
"""

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from checker.untrusted import printable
from racelab.conform.contract import RULES
from racelab.conform.rules import TIMEOUT_S, Client, ContractBroken, State
from shapes.reports import CheckReport, LoadSummary


@dataclass
class Result:
    """One rule's outcome."""

    name: str
    says: str
    passed: bool
    want: str = ""
    lines: list = field(default_factory=list)  # the request and answer that broke it


def run_rules(url: str, progress=None, timeout: float = TIMEOUT_S) -> list[Result]:
    """Check every rule in order; cancel every order the rules made; return the results.

    timeout: seconds each answer may take, whole, before it counts as no answer.
    """
    progress = progress or (lambda result: None)
    state, results = State(Client(url, timeout)), []
    try:
        for name, rule in RULES.items():
            results.append(_run_rule(name, rule, state))
            progress(results[-1])
            last = state.client.last
            if name == "health" and (last is None or last.status is None):
                break  # nothing answers: the other rules would only say so again
    finally:
        _clean_up(state)
        state.client.close()
    return results


def _run_rule(name: str, rule, state: State) -> Result:
    try:
        rule.fn(state)
    except ContractBroken as e:
        return _broken(name, rule, e.want, e.exchange or state.client.last)
    except (LookupError, TypeError, ValueError, AttributeError) as e:
        # Answers a rule did not foresee (a sku gone from one GET /items to the next, an id
        # of the wrong type): the server is untrusted input, and this is its failure.
        return _broken(name, rule, f"answers this rule can read ({type(e).__name__}: {e})",
                       state.client.last)  # fmt: skip
    return Result(name, rule.says, True)


def _broken(name: str, rule, want: str, shown) -> Result:
    """Return a failed rule's result; the last answer shows what was wrong."""
    lines = shown.lines() if shown else []
    return Result(name, rule.says, False, printable(want), lines)


def _clean_up(state: State) -> None:
    """Cancel what the rules created, so the server keeps the stock it had."""
    for order_id in state.made:
        state.client.send("DELETE", f"/orders/{order_id}")


MAX_REQUESTS = 20_000  # the concurrent run is a smoke test, bounded by count as well as time


@dataclass
class Concurrent:
    """The short concurrent run: its load summary and the check through the API."""

    summary: LoadSummary
    report: CheckReport
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

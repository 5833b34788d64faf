"""Faults tally: `racelab compare --faults kill` over many seeds, counted per target.

How often does each strategy hold through three SIGKILLs and restarts, and how often is
JSON naive's in-place store left unreadable (empty, truncated, or with a garbage tail)?
Under 50 VUs naive JSON is usually wrecked by its own races before the first kill, so it
is also run with one virtual user: no race, so any damage is the kill's.
Opt-in (`python -m benchmarks kills --runs 10`): each run takes about half a minute.
"""

import itertools
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.targets import run_compare_once
from benchmarks.tools import print_table, save
from shapes.reports import CheckReport, read_shape

# (targets, virtual users)
EXPERIMENTS = (
    ("json:naive@4,json:file-lock@4,sqlite:transactional@4", 50),
    ("json:naive@1", 1),
)


def store_state(error: str | None) -> str:
    """Name what a kill left of the store, from the checker's corrupt_store reason."""
    if error is None:
        return "readable"
    if "empty" in error:
        return "empty"
    if "followed by" in error:
        return "garbage tail"
    return "truncated"


def run(runs: int = 10, seconds: int = 8) -> dict:
    """Run each kill experiment once per seed 1..runs; print and save the tally."""
    tally: dict[str, Counter] = {}
    with tempfile.TemporaryDirectory() as work:
        for (targets, vus), seed in itertools.product(EXPERIMENTS, range(1, runs + 1)):
            out = Path(work) / f"{vus}vus-seed{seed}"
            report = run_compare_once(
                targets, vus, seconds, out, "--faults", "kill", "--seed", str(seed)
            )
            for entry in report.targets:
                check = read_shape(out / entry.dir / "check.json", CheckReport)
                name = f"{entry.target}@{entry.workers}, {vus} VU{'s' * (vus > 1)}"
                counts = tally.setdefault(name, Counter())
                counts["runs"] += 1
                counts[entry.verdict.value] += 1
                counts["kills"] += len(entry.faults)
                counts["restart failed"] += sum(not f.restarted for f in entry.faults)
                counts[f"store {store_state(check.store.error)}"] += 1
                counts["lost"] += entry.anomalies.get("lost", 0)
    rows = [
        [
            name,
            c["runs"],
            c["held"],
            c["failed"],
            c["kills"],
            c["restart failed"],
            ", ".join(f"{k[6:]} {n}" for k, n in sorted(c.items()) if k.startswith("store ")),
            c["lost"],
        ]
        for name, c in tally.items()
    ]
    print_table(
        f"Kills: racelab compare --faults kill, seeds 1-{runs}, {seconds} s a run",
        ["target", "runs", "held", "failed", "kills", "restarts failed", "store at end", "lost"],
        rows,
        f"python -m benchmarks kills --runs {runs}",
    )
    save("kills", {"runs": runs, "targets": {name: dict(c) for name, c in tally.items()}})
    return tally

"""Faults tally: `racelab compare --faults kill` over many seeds, counted per target.

How often does each strategy hold through three SIGKILLs and restarts, and how often is
JSON naive's in-place store left unreadable (empty, truncated, or with a garbage tail)?
Opt-in (`python -m benchmarks kills --runs 10`): each run takes about half a minute.
"""

import json
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.targets import run_compare_once
from benchmarks.tools import print_table, save

TARGETS = "json:naive@4,json:file-lock@4,sqlite:transactional@4"


def store_state(error: str | None) -> str:
    """Name what a kill left of the store, from the checker's corrupt_store reason."""
    if error is None:
        return "readable"
    if "empty" in error:
        return "empty"
    if "followed by" in error:
        return "garbage tail"
    return "truncated"


def run(runs: int = 10, vus: int = 50, seconds: int = 8) -> dict:
    """Run the kill experiment once per seed 1..runs; print and save the tally."""
    tally: dict[str, Counter] = {}
    with tempfile.TemporaryDirectory() as work:
        for seed in range(1, runs + 1):
            out = Path(work) / f"seed{seed}"
            report = run_compare_once(
                TARGETS, vus, seconds, out, "--faults", "kill", "--seed", str(seed)
            )
            for entry in report["targets"]:
                check = json.loads((out / entry["dir"] / "check.json").read_text())
                counts = tally.setdefault(f"{entry['target']}@{entry['workers']}", Counter())
                counts["runs"] += 1
                counts[entry["verdict"]] += 1
                counts["kills"] += len(entry["faults"])
                counts["restart failed"] += sum(not f["restarted"] for f in entry["faults"])
                counts[f"store {store_state(check['store']['error'])}"] += 1
                counts["lost"] += entry["anomalies"].get("lost", 0)
    rows = [
        [
            name,
            c["runs"],
            c["held"],
            c["failed"],
            c["store empty"] + c["store truncated"] + c["store garbage tail"],
            c["restart failed"],
            c["lost"],
        ]
        for name, c in tally.items()
    ]
    print_table(
        f"Kills: racelab compare --faults kill, seeds 1-{runs}, {vus} VUs, {seconds} s",
        ["target", "runs", "held", "failed", "store unreadable", "restarts failed", "lost"],
        rows,
        f"python -m benchmarks kills --runs {runs}",
    )
    save("kills", {"runs": runs, "targets": {name: dict(c) for name, c in tally.items()}})
    return tally

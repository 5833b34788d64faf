"""Benchmark: a stepped interleaving gives the same outcome every time, measured.

Every interleaved (not one-session-after-another) permutation of every shipped spec, on
every target its `[expected]` table names, is run `runs` times with `racelab step`'s own
engine; a cell counts as kept when every run gave the spec's expected label.
"""

from dataclasses import replace
from pathlib import Path

from benchmarks.tools import print_table, save
from racelab.compare.targets import parse_spec
from racelab.step.run import run_matrix
from racelab.step.spec import is_serial, load_spec

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.toml"))


def run(runs: int = 20, only: tuple = (), first_only: bool = False) -> dict:
    """Run each interleaved cell `runs` times; print and save how often it kept its label.

    only: spec names to run (all when empty); first_only: each spec's first interleaved
    permutation alone."""
    rows, results = [], {}
    for path in SPECS:
        if only and path.stem not in only:
            continue
        spec = load_spec(path)
        interleaved = [i for i, p in enumerate(spec.permutations) if not is_serial(p)]
        for index, permutation in enumerate(spec.permutations):
            if index not in (interleaved[:1] if first_only else interleaved):
                continue
            one = replace(spec, permutations=[permutation])
            for target, cells in spec.expected.items():
                cell = run_matrix(one, [parse_spec(target)], runs, 1.0)[0][0]
                kept = sum(1 for outcome in cell.runs if _label(cell, outcome) == cells[index])
                name = f"{path.stem} #{index + 1} on {target}"
                results[name] = {"expected": cells[index], "kept": kept, "runs": runs}
                rows.append([path.stem, index + 1, target, cells[index], f"{kept}/{runs}"])
    print_table(
        f"Stepped interleavings, each run {runs} times: runs that gave the expected cell",
        ["spec", "perm.", "target", "expected", "kept"],
        rows,
        f"python -m benchmarks {'stepskew' if only else 'stepruns'} --runs {runs}",
    )
    save("stepskew" if only else "stepruns", {"runs": runs, "cells": results})
    return results


def _label(cell, outcome) -> str:
    """Return the label one run alone would have had."""
    return replace(cell, runs=[outcome]).label()

"""Stepping's benchmarks: its cost when off, its repeatability, whole matrices, servers' own I/O."""

import sys
import tempfile
import time
import timeit
from dataclasses import replace
from pathlib import Path

from benchmarks.capacity import load_creates
from benchmarks.tools import median, print_table, save
from racelab.compare.external import parse_external
from racelab.compare.settings import Settings
from racelab.compare.targets import TargetSpec, parse_spec
from racelab.step.external import run_external
from racelab.step.run import Cell, run_matrix
from racelab.step.spec import is_serial, load_spec
from shapes.reports import LoadSummary

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.toml"))

# `step`: pause points cost nothing when stepping is off, or on for other requests. The
# same server is loaded with creates three ways, alternating: `racelab serve` as usual,
# and `racelab serve --step` with no session header on any request (every pause point is
# passed by a request that does not pause); beside them, one pause point call's cost with
# stepping off, against a request's latency.
COST_TARGETS = (TargetSpec("json", "thread-lock", 1), TargetSpec("sqlite", "transactional", 1))
MODES = {
    "off": (),
    # No request names a session, so the socket is never opened.
    "on, no session": ("--step", "/nonexistent/racelab-pause.sock", "--step-secret", "x" * 32),
}


def load_once(spec: TargetSpec, extra: tuple, vus: int, seconds: int) -> LoadSummary:
    """Serve a fresh store (with `extra` serve options) under creates; return the summary."""
    with tempfile.TemporaryDirectory() as work:
        return load_creates(spec, Path(work) / "data", Settings(), vus, seconds, extra=extra)


def pause_call_ns() -> float:
    """Return the cost of one pause point call with stepping off, in nanoseconds."""
    from servers import stepping

    calls = 1_000_000  # outside any request: no app's settings, so every point is off
    return min(timeit.repeat(lambda: stepping.pause("read"), number=calls, repeat=5)) / calls * 1e9


def measure_cost(runs: int = 3, vus: int = 20, seconds: int = 5) -> dict:
    """Measure creates/s and p99 with stepping off and on-without-session; print and save."""
    samples = {(spec.name, mode): [] for spec in COST_TARGETS for mode in MODES}
    for _ in range(runs):
        for spec in COST_TARGETS:
            for mode, extra in MODES.items():
                samples[spec.name, mode].append(load_once(spec, extra, vus, seconds))
    rows, summary = [], {}
    for spec in COST_TARGETS:
        off = median([s.rps for s in samples[spec.name, "off"]])
        for mode in MODES:
            done = samples[spec.name, mode]
            rps = median([s.rps for s in done])
            p99 = median([s.latency_ms.p99 for s in done])
            summary[f"{spec.name} {mode}"] = {"rps": rps, "p99_ms": p99, "ratio": rps / off}
            rows.append([spec.name, mode, f"{rps:.0f}", f"{p99:.1f}", f"{rps / off:.2f}"])
    ns = pause_call_ns()
    summary["pause_call_off_ns"] = ns
    rows.append(["(one pause point, off)", f"{ns:.0f} ns a call", "", "", ""])
    print_table(
        f"Stepping's cost: creates only, {vus} VUs, {seconds} s, median of {runs}, alternating",
        ["target", "--step", "req/s", "p99 ms", "vs off"],
        rows,
        f"python -m benchmarks step --runs {runs}",
    )
    save("step", {"vus": vus, "seconds": seconds, "runs": runs, "results": summary})
    return summary


# `stepruns`, `stepskew`: a stepped interleaving gives the same outcome every time. Every
# interleaved (not one-session-after-another) permutation of every shipped spec, on every
# target its `[expected]` table names, is run `runs` times with `racelab step`'s own engine;
# a cell counts as kept when every run gave the spec's expected label.


def tally_repeats(runs: int = 20, only: tuple = (), first_only: bool = False) -> dict:
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


# `stepmatrix`: how long stepping takes where people wait for it. One spec
# (specs/last-item-oversold.toml) on every target its table names, and the whole specs/
# matrix, each timed as `racelab step` runs it: one server per target, the store reseeded
# in place before each permutation.
ONE = "last-item-oversold"


def timed_matrix(paths) -> tuple[float, int]:
    """Run each spec on every target it names; return (seconds, permutations run)."""
    started, count = time.perf_counter(), 0
    for path in paths:
        spec = load_spec(path)
        targets = [parse_spec(t) for t in spec.expected]
        run_matrix(spec, targets, repeat=1, block_wait=1.0)
        count += len(spec.permutations) * len(targets)
    return time.perf_counter() - started, count


def time_matrices(runs: int = 3) -> dict:
    """Time one spec's matrix and the whole specs/ matrix `runs` times; print and save."""
    one = [path for path in SPECS if path.stem == ONE]
    samples: dict[str, list] = {"one spec": [], "every spec": []}
    for _ in range(runs):
        samples["one spec"].append(timed_matrix(one))
        samples["every spec"].append(timed_matrix(SPECS))
    rows, results = [], {}
    for name, done in samples.items():
        seconds, count = median([s for s, _ in done]), done[0][1]
        results[name] = {"seconds": seconds, "permutations": count}
        rows.append([name, count, f"{seconds:.1f}", f"{seconds / count * 1000:.0f}"])
    print_table(
        f"Stepping: whole matrices, median of {runs}",
        ["matrix", "permutations", "seconds", "ms a permutation"],
        rows,
        f"python -m benchmarks stepmatrix --runs {runs}",
    )
    save("stepmatrix", {"runs": runs, "results": results})
    return results


# `stepio`: servers stepped at their own I/O keep their outcome, and what a permutation
# costs. The Express data.json server at its file operations (FUSE) and the Express + pg
# twin and its fix at their SQL (a proxy), each interleaved permutation run `runs` times
# with `racelab step --external`'s engine (a server start, and a store emptied, per run).
# A run is kept when it gave the expected cell; the time is the whole run's over the runs,
# the mount or the private PostgreSQL started once for all of them.
SERVER = f"{Path(sys.executable).parent / 'node'} {ROOT}/examples/express/server.js"
SEEDED = " --port {port} --skus {skus} --stock {stock}"
PG = f"{SERVER} --database-url {{database_url}}{SEEDED} --store"
# (name, spec, command, file points, the interleaved permutation's expected cell)
IO_CASES = [
    ("express-json", "last-item-oversold", f"{SERVER} --store json --data {{data_dir}}{SEEDED}",
     True, "lost, id_collision"),
    ("express-pg", "sql-lost-update", f"{PG} pg",
     False, "stock_mismatch, oversold"),
    ("express-pg-for-update", "sql-lost-update",
     f"{PG} pg-for-update", False,
     "held (blocked)"),
]  # fmt: skip


def tally_own_io(runs: int = 20) -> dict:
    """Run each case's interleaved permutation `runs` times; print and save the tally."""
    rows, results = [], {}
    for name, spec_name, command, files, expected in IO_CASES:
        kept, seconds = _io_tally(name, spec_name, command, files, expected, runs)
        per_run = seconds / runs
        results[name] = {"expected": expected, "kept": kept, "runs": runs, "s_per_run": per_run}
        rows.append(
            [name, "files" if files else "sql", expected, f"{kept}/{runs}", f"{per_run:.2f}"]
        )
    print_table(
        f"Servers stepped at their own I/O, the interleaved permutation {runs} times",
        ["server", "points", "expected", "kept", "s/permutation"],
        rows,
        f"python -m benchmarks stepio --runs {runs}",
    )
    save("stepio", {"runs": runs, "cases": results})
    return results


def _io_tally(name, spec_name, command, files, expected, runs) -> tuple[int, float]:
    """Return how many runs gave the expected cell, and the seconds they took together."""
    spec = load_spec(ROOT / "specs" / f"{spec_name}.toml")
    permutation = spec.permutations[1]  # the interleaved one: A.x B.x A.y B.y
    one = replace(spec, permutations=[permutation])
    target = parse_external(f"{name}={command}")
    start = time.perf_counter()
    outcomes = run_external(target, [(one, permutation)] * runs, files=files)
    seconds = time.perf_counter() - start
    kept = sum(Cell(target, permutation, [o]).label() == expected for o in outcomes)
    return kept, seconds

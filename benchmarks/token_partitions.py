"""Issue 35's third way, measured: the history's writes partitioned by token hash in polars.

Not racelab's checker: a study beside `benchmarks.duckcheck`. Pass 1 reads the history
with the engine's blocks, schema and tests (checker/engine.py; not its fallbacks to the
careful reader) and writes the writes, narrow, to Arrow IPC files by the tokens' hashes,
FLUSH blocks a file; pass 2 reads one partition at a time and reduces it with
checker/facts.py itself. Every write of a token lands in one partition, so each token's
facts are whole there, and memory holds FLUSH blocks' writes or one partition, never the
whole history. The two ways' facts are held equal by a digest (sums that do not depend on
how the tokens were numbered). Measured beside the engine's own read and facts, each in a
process of its own:

    python -m benchmarks.token_partitions --data /tmp/c35 --sizes 1000000 10000000 --runs 3

Only the history's read and its facts per token, the collisions only within a partition:
the store, the checks, the collisions by id and the contention measure would have to be
partitioned too (docs/benchmarks.md, 4).
"""

import argparse
import io
import json
import os
import resource
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.checker_scale import kept_data, run_measured
from benchmarks.tools import median, print_table, save
from checker.columns import NONE
from checker.engine import BLOCK, SCHEMA, Blocks, _validity, _writes
from checker.facts import facts_from
from history import HistoryStream

# The partitions' count: the history's operations over this (each one a write in this data).
WRITES_A_PARTITION = 625_000
# Blocks of writes held before each partition's share is written: at 30M, a file a block
# a partition (15,840 files) cost 68.1 CPU s, 8 blocks a file 49.9.
FLUSH = 8


def partitioned(path: Path, parts: int) -> dict:
    """Read a history's writes into partitions by token hash, then reduce each; return the
    facts' digest, summed over the partitions."""
    history = HistoryStream(path)
    with tempfile.TemporaryDirectory(prefix="partitions-") as work:
        _write_partitions(path, Path(work), parts)
        found: Counter = Counter()
        for part in range(parts):
            found += _reduce(sorted(Path(work).glob(f"p{part:04}-*.arrow")), history)
    return dict(sorted(found.items()))


def _write_partitions(path: Path, work: Path, parts: int) -> int:
    """Pass 1: the writes, narrow, to IPC files by partition, FLUSH blocks a file; return
    their count."""
    first = written = 0
    pending: dict = {}
    with open(path, "rb") as file:
        for number, block in enumerate(iter(lambda: file.read(BLOCK), b"")):
            block += file.readline()  # whole lines
            frame = pl.read_ndjson(io.BytesIO(block), schema=SCHEMA)
            lazy = frame.lazy().with_row_index("locator", offset=first)
            if first == 0:
                lazy = lazy.filter(pl.col("locator") > 0)  # the run record
            first += frame.height
            valid, writes = pl.collect_all([_validity(lazy), _writes(lazy)])
            if not valid["valid"].item():
                raise ValueError("input the careful reader would read: not in this study")
            writes = writes.with_columns(part=(pl.col("token").hash() % parts).cast(pl.Int32))
            for (part,), rows in writes.partition_by("part", as_dict=True).items():
                pending.setdefault(part, []).append(rows.drop("part"))
            written += writes.height
            if number % FLUSH == FLUSH - 1:
                _flush(pending, work, number)
    _flush(pending, work, "last")
    return written


def _flush(pending: dict, work: Path, number) -> None:
    """Write each partition's pending writes as one file, and let them go."""
    for part, frames in pending.items():
        pl.concat(frames).write_ipc(work / f"p{part:04}-{number}.arrow")
    pending.clear()


def _reduce(files: list, history) -> Counter:
    """Pass 2: one partition's facts per token, by checker/facts.py itself; their digest."""
    if not files:
        return Counter()
    blocks = Blocks()
    blocks.add(pl.concat([pl.read_ipc(f) for f in files]).sort("locator"))
    return digest(facts_from(history, blocks.columns(), fetch=None))


def digest(facts) -> Counter:
    """Return what the facts say, in sums that do not depend on how tokens were numbered
    (the collisions only within a partition: ids are not partitioned here)."""
    found: Counter = Counter(tokens=len(facts.writes.tokens))
    for name in ("created", "cancelled"):
        found.update({f"{name} {rank}": n for rank, n in enumerate(np.bincount(
            getattr(facts, name) + 1).tolist())})  # fmt: skip
    found["acked"] = int((facts.acked != NONE).sum())
    found["cancel"] = int((facts.cancel != NONE).sum())
    skus, qtys = facts.sent_skus_and_qtys()
    names = facts.writes.sku_names
    for code, qty in zip(skus.tolist(), qtys.tolist(), strict=True):
        if code != NONE:
            found[f"sent {names[code]}"] += qty
    for op, outcomes in facts.counts.items():
        found.update({f"{op} {outcome}": n for outcome, n in outcomes.items()})
    found["collisions"] = len(facts.collisions)
    return found


def engine(path: Path) -> dict:
    """The engine's own read and facts, and their digest."""
    from checker.engine import read_writes  # noqa: PLC0415

    history = HistoryStream(path)
    columns, fetch, _, _ = read_writes(history)
    return dict(sorted((+digest(facts_from(history, columns, fetch))).items()))  # no zeros


def measure_once(way: str, path: Path, parts: int) -> dict:
    """Run one way in a process of its own; return its seconds, CPU seconds and peak MB."""
    command = [sys.executable, "-m", "benchmarks.token_partitions", "--one", way, str(path),
               "--parts", str(parts)]  # fmt: skip
    measured = run_measured(command)
    if measured.pop("exit") != 0:
        raise RuntimeError(f"{way} failed on {path}")
    output = measured.pop("output")
    return {**measured, "counts": output}


def run(runs: int, sizes, data: Path) -> dict:
    """Measure both ways on each size's kept history, alternating; print and save medians."""
    rows, figures = [], {}
    for size in sizes:
        history = kept_data(data, size)[0]
        parts = max(1, size // WRITES_A_PARTITION)
        found: dict = {"engine": [], "partitioned": []}
        load = os.getloadavg()[0]
        for _ in range(runs):
            for way in found:
                found[way].append(measure_once(way, history, parts))
        if len({json.dumps(r["counts"]) for results in found.values() for r in results}) != 1:
            raise RuntimeError(f"the two ways counted differently at {size}")
        for way, results in found.items():
            row = {"way": way, "N": size, "parts": parts if way == "partitioned" else "",
                   "seconds": round(median([r["seconds"] for r in results]), 2),
                   "CPU s": round(median([r["cpu"] for r in results]), 2),
                   "peak MB": round(median([r["peak_mb"] for r in results])),
                   "load": round(load, 1)}  # fmt: skip
            rows.append(row)
            figures[f"{way}_{size}"] = row
    command = (
        f"python -m benchmarks.token_partitions --data {data} "
        f"--sizes {' '.join(map(str, sizes))} --runs {runs}"
    )
    print_table("The history's read and facts, whole or by partition", list(rows[0]),
                [list(r.values()) for r in rows], command)  # fmt: skip
    return save("token_partitions", {"command": command, "figures": figures})


def main() -> None:
    """Measure both ways, or (--one) run one way once and print its counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/checker-data"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("WAY", "HISTORY"))
    parser.add_argument("--parts", type=int, default=16)
    args = parser.parse_args()
    if args.one:
        way, path = args.one
        counts = engine(Path(path)) if way == "engine" else partitioned(Path(path), args.parts)
        print(json.dumps(counts))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak RSS {peak / 1024:.0f} MB", file=sys.stderr)
    else:
        run(args.runs, args.sizes, args.data)


if __name__ == "__main__":
    main()

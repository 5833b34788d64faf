"""Issue 35's next step, measured: the check's per-token work in DuckDB, out of core.

Not racelab's checker, and no command of racelab's: a study of the engine issue 35 asks
for, run on the data of `benchmarks.checker_scale`. It reads the history file and the store
(store.json or store.db, by the checker's own block readers, each block written as Parquet
and all loaded at the end) into DuckDB under a memory limit, spilling to a temporary
directory, and computes the order
workload's report figures: the history's counts, lost, duplicated, id_collision,
unexpected, resurrected, corrupt_record's mismatches, recovered, the stock sums and the
contention measure. `--verify` compares every figure with `racelab check --json` on the
same files (benchmarks/duckcheck_verify.py). What it leaves out, and what adopting it would
take: docs/benchmarks.md, 4.

    python -m benchmarks.duckcheck --data /tmp/c35 --sizes 1000000 10000000 --runs 3
    python -m benchmarks.duckcheck --verify STORE HISTORY
    python -m benchmarks.duckcheck --planted

DuckDB is not one of racelab's dependencies: `pip install -e '.[study]'`.
"""

import argparse
import json
import os
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.checker_scale import check_once, kept_data, run_measured
from benchmarks.tools import median, print_table, save
from checker import stores
from checker.json_stream import stream_orders
from checker.orders import Orders
from checker.sql_store import WELL_TYPED

MEMORY_LIMIT = "500MB"
FAIL, INFO, OK = 0, 1, 2
# Every field a write record's checks read, typed; DuckDB reads the file in its threads.
HISTORY_COLUMNS = (
    "{op: 'VARCHAR', token: 'VARCHAR', sku: 'VARCHAR', qty: 'BIGINT', order_id: 'BIGINT',"
    " status: 'BIGINT', type: 'VARCHAR', t0: 'DOUBLE', t1: 'DOUBLE'}"
)
STORE_ROWS = 1 << 20  # store.db rows decoded at a time
WRITES = f"""
CREATE TABLE w AS
SELECT token, op = 'create' AS is_create,
       (CASE type WHEN 'fail' THEN {FAIL} WHEN 'info' THEN {INFO} WHEN 'ok' THEN {OK} END)::TINYINT
         AS rank,
       sku, qty, order_id, status IS NULL AS unsent, t0, t1
FROM read_json(?, format = 'newline_delimited', columns = {HISTORY_COLUMNS})
WHERE op IN ('create', 'cancel')
"""
NAMED = "is_create AND sku IS NOT NULL AND qty IS NOT NULL"  # a create that sent both
# The facts per token (checker/facts.py), by one group-by; rowid is the write's position.
FACTS = f"""
CREATE TABLE f AS
SELECT token,
       max(rank) FILTER (is_create) AS created,
       max(rank) FILTER (NOT is_create) AS cancelled,
       -- the id each token was acked with: no count reads it, racelab's examples do
       arg_max(order_id, rowid) FILTER (is_create AND rank = {OK} AND order_id IS NOT NULL)
         AS acked_id,
       arg_max({{'named': order_id IS NOT NULL, 'id': order_id}}, rowid)
         FILTER (NOT is_create AND rank = {OK}) AS cancel,
       arg_min({{'sku': sku, 'qty': qty, 'at': rowid}}, t0) FILTER ({NAMED}) AS sent,
       count(*) FILTER ({NAMED}) AS named_creates
FROM w GROUP BY token
"""
# Of a token's creates sent at its earliest time, the first in history order: a list key
# costs three times the whole group-by, so only tokens sent twice or more are done again.
FIRST_SENT = f"""
UPDATE f SET sent = again.sent FROM (
    SELECT token, arg_min({{'sku': sku, 'qty': qty, 'at': w.rowid}}, [t0, w.rowid::DOUBLE]) AS sent
    FROM w SEMI JOIN (SELECT token FROM f WHERE named_creates > 1) USING (token)
    WHERE {NAMED} GROUP BY token) AS again
WHERE f.token = again.token
"""
# Each stored token's first order (the checks' "distinct" orders).
DISTINCT = "CREATE TABLE d AS SELECT token, arg_min(id, pos) AS id FROM s GROUP BY token"
COUNTS = {
    "lost": f"""SELECT count(*) FROM f ANTI JOIN d USING (token)
                WHERE created = {OK} AND coalesce(cancelled, -1) < {INFO}""",
    "duplicated": "SELECT count(*) FROM (SELECT token FROM s GROUP BY token HAVING count(*) > 1)",
    "id_collision": f"""SELECT count(*) FROM (
        SELECT id FROM s GROUP BY id HAVING count(*) > 1
        UNION
        SELECT order_id FROM w WHERE is_create AND rank = {OK} AND order_id IS NOT NULL
        GROUP BY order_id HAVING count(DISTINCT token) > 1)""",
    "unexpected": f"""SELECT count(*) FROM d LEFT JOIN f USING (token)
                      WHERE coalesce(f.created, -1) <= {FAIL}""",
    "resurrected": f"""SELECT count(*) FROM f JOIN d USING (token)
                       WHERE f.cancelled = {OK} AND (NOT f.cancel.named OR f.cancel.id = d.id)""",
    "mismatched": """SELECT count(*) FROM s JOIN f USING (token)
                     WHERE f.sent IS NOT NULL AND (s.sku <> f.sent.sku OR s.qty <> f.sent.qty)""",
    "recovered": f"SELECT count(*) FROM f JOIN d USING (token) WHERE f.created = {INFO}",
}
# Each sku a number (the empty sku too: a token may have sent it first).
SKUS = """CREATE TABLE k AS SELECT sku, row_number() OVER () AS code
          FROM (SELECT DISTINCT sku FROM w WHERE sku IS NOT NULL)"""
# Each sent write's sku group (checker/facts.py's _sku_groups): its own sku, else the one its
# token first sent, if that came earlier, else a group of its own; unsent failures left out.
GROUPS = f"""
CREATE TABLE g AS
SELECT w.t0, w.t1, k.code AS grp
FROM w JOIN k USING (sku)
WHERE w.sku <> '' AND NOT (w.rank = {FAIL} AND w.unsent)
UNION ALL
SELECT w.t0, w.t1, CASE WHEN f.sent.at <= w.rowid THEN k.code ELSE -2 - w.rowid END
FROM w LEFT JOIN f USING (token) LEFT JOIN k ON k.sku = f.sent.sku
WHERE (w.sku IS NULL OR w.sku = '') AND NOT (w.rank = {FAIL} AND w.unsent)
"""
# Every lasting span's start (1) and end (0), sorted: ends before starts on a tie, so at an
# end the starts before it began strictly earlier (overlap is strict: max(t0) < min(t1)).
EVENTS = """
CREATE TABLE {table} AS
SELECT {key} AS grp, k FROM (
    SELECT grp, t0 AS t, 1::TINYINT AS k FROM g WHERE t1 > t0
    UNION ALL SELECT grp, t1, 0::TINYINT FROM g WHERE t1 > t0)
ORDER BY grp, t, k
"""
EVENT_ROWS = 1 << 22  # sorted events read back at a time


def connect(work: Path, memory_limit: str):
    """Return a DuckDB database in work, held to memory_limit (the rest spills to work)."""
    try:
        import duckdb  # noqa: PLC0415 - only this study needs it
    except ImportError:
        sys.exit("benchmarks.duckcheck needs DuckDB: pip install -e '.[study]'")

    con = duckdb.connect(str(work / "check.duckdb"))
    # A table's rowid is then its rows' order as read: a write's position in the history,
    # and the sorted events' order (DuckDB's default, said here because all rests on it).
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{work / 'spill'}'")
    return con


def check(store: Path, history: Path, memory_limit: str = MEMORY_LIMIT) -> dict:
    """Return the order workload's report figures for a store and a history, from DuckDB."""
    with tempfile.TemporaryDirectory(prefix="duckcheck-") as work:
        con = connect(Path(work), memory_limit)
        lap = Laps()
        con.execute(WRITES, [str(history)])
        lap("history")
        con.execute(FACTS)
        con.execute(FIRST_SENT)
        lap("facts")
        items, initial = load_store(con, store, Path(work)), _initial_items(history)
        lap("store")
        con.execute(DISTINCT)
        lap("distinct")
        found = {name: _one(con, query) for name, query in COUNTS.items()}
        found["history"] = _history_counts(con)
        found["stored"] = _one(con, "SELECT count(*) FROM s")
        found["stock"] = _stock(con, items, initial)
        lap("checks")
        con.execute(SKUS)
        con.execute(GROUPS)
        lap("groups")
        found["contention"] = _contention(con)
        lap("contention")
        con.close()
    return found


class Laps:
    """Print each phase's wall and CPU seconds to stderr (--one's breakdown)."""

    def __init__(self):
        self.wall, self.cpu = time.monotonic(), time.process_time()

    def __call__(self, name: str) -> None:
        wall, cpu = time.monotonic(), time.process_time()
        print(f"{name:11} {wall - self.wall:6.2f} s {cpu - self.cpu:6.2f} CPU s", file=sys.stderr)
        self.wall, self.cpu = wall, cpu


def _one(con, query: str) -> int:
    """Return a query's one integer."""
    return int(con.execute(query).fetchone()[0])


def _initial_items(history: Path) -> dict:
    """Return the stock the run began with, from the history's first record."""
    with open(history, "rb") as f:
        return json.loads(f.readline())["items"]


def _history_counts(con) -> dict:
    """Count each write op's outcomes, as the report's history counts."""
    rows = con.execute("SELECT is_create, rank, count(*) FROM w GROUP BY ALL").fetchall()
    counts = {"creates": dict.fromkeys(("fail", "info", "ok"), 0)}
    counts["cancels"] = dict(counts["creates"])
    for is_create, rank, count in rows:
        counts["creates" if is_create else "cancels"][("fail", "info", "ok")[rank]] = count
    return counts


def _stock(con, items: dict, initial: dict) -> dict:
    """Return stock_mismatch's and oversold's counts from the stored qty per sku."""
    sold = dict(con.execute("SELECT sku, sum(qty)::BIGINT FROM s GROUP BY sku").fetchall())
    skus = set(initial) | set(items)
    mismatch = sum(initial.get(s, 0) - sold.get(s, 0) != items.get(s, 0) for s in skus)
    over = sum(items.get(s, 0) < 0 or (s in initial and sold.get(s, 0) > initial[s]) for s in skus)
    return {"stock_mismatch": mismatch, "oversold": over}


def _contention(con) -> dict:
    """Return checker/contention.py's figures, from the spans' sorted ends a chunk at a time."""
    lap = Laps()
    con.execute(EVENTS.format(table="by_sku", key="grp"))
    lap("  events")
    con.execute(EVENTS.format(table="by_time", key="0::BIGINT"))
    met, lasting, depth = _met(con, "by_sku")
    all_met, _, _ = _met(con, "by_time")
    lap("  met")
    return {
        "writes": _one(con, "SELECT count(*) FROM g"),
        "overlaps": (met - lasting) // 2,
        "store_overlaps": (all_met - lasting) // 2,
        "max_depth": depth,
    }


def _met(con, table: str) -> tuple[int, int, int]:
    """Return, over a sorted events table, the sum over spans of the spans each met (itself
    included), the number of spans, and the most in flight at once within one group.

    At a span's end, the starts before it in its group; at its start, the ends at or before
    it: running counts, reset where the group changes, carried from chunk to chunk.
    """
    total = _one(con, f"SELECT count(*) FROM {table}")
    met = spans = depth = 0
    carried = np.zeros(4, np.int64)  # starts and ends so far, and before the group began
    last = None
    for start in range(0, total, EVENT_ROWS):
        got = con.execute(
            f"SELECT grp, k FROM {table} WHERE rowid >= {start} AND rowid < {start + EVENT_ROWS}"
        ).fetchnumpy()
        group, kind = np.asarray(got["grp"]), np.asarray(got["k"]).astype(np.int64)
        starts = carried[0] + np.cumsum(kind)
        ends = carried[1] + np.cumsum(1 - kind)
        new = np.empty(group.size, bool)
        new[0] = last is None or group[0] != last
        new[1:] = group[1:] != group[:-1]
        first = np.maximum.accumulate(np.where(new, np.arange(group.size), -1))
        at = np.maximum(first, 0)
        before_starts = np.where(first >= 0, (starts - kind)[at], carried[2])
        before_ends = np.where(first >= 0, (ends - 1 + kind)[at], carried[3])
        in_starts, in_ends = starts - before_starts, ends - before_ends
        is_start = kind == 1
        met += int(in_starts[~is_start].sum()) - int(in_ends[is_start].sum())
        spans += int(is_start.sum())
        if is_start.any():
            depth = max(depth, int((in_starts - in_ends)[is_start].max()))
        carried[:] = starts[-1], ends[-1], before_starts[-1], before_ends[-1]
        last = group[-1]
    return met, spans, depth


def load_store(con, store: Path, work: Path) -> dict:
    """Hand a store's well-formed orders to DuckDB as table s, a block at a time; return
    its items."""
    con.execute("CREATE TABLE s (pos BIGINT, id BIGINT, sku VARCHAR, qty BIGINT, token VARCHAR)")
    with open(store, "rb") as f:
        is_sqlite = f.read(16) == b"SQLite format 3\x00"
    blocks = Blocks(con, work)
    items = _sqlite_blocks(store, blocks) if is_sqlite else _json_blocks(store, blocks)
    blocks.load()
    return items


class Blocks:
    """Orders handed over a block at a time: each block written as Parquet by polars, and
    all of them made table s by load(), none kept in memory.

    No token of a SQLite store becomes a Python str on the way (about as fast as handing
    DuckDB the strs: docs/benchmarks.md, 4); the JSON store's block reader appends each
    block it decodes.
    """

    def __init__(self, con, work: Path):
        self.con, self.work, self.count, self.files = con, work, 0, 0

    def append(self, orders) -> None:
        """Write one block of Orders, numbered on from the last block's."""
        frame = pl.DataFrame({
            "pos": np.arange(self.count, self.count + len(orders), dtype=np.int64),
            "id": orders.ids, "sku": orders.skus, "qty": orders.qtys, "token": orders.tokens,
        })  # fmt: skip
        frame.write_parquet(
            self.work / f"orders-{self.files:06}.parquet", compression="uncompressed"
        )
        self.count += len(orders)
        self.files += 1

    def load(self) -> None:
        """Make the blocks written so far table s."""
        if self.files:
            self.con.execute(
                f"INSERT INTO s SELECT * FROM read_parquet('{self.work}/orders-*.parquet')"
            )
        for path in self.work.glob("orders-*.parquet"):
            path.unlink()


def _sqlite_blocks(store: Path, blocks: Blocks) -> dict:
    """Hand store.db's well-formed orders over STORE_ROWS rows at a time; return its items."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    low, high = db.execute("SELECT min(rowid), max(rowid) FROM orders").fetchone()
    for start in range(low or 0, (high or 0) + 1, STORE_ROWS):
        where = f"{WELL_TYPED} AND rowid >= {start} AND rowid < {start + STORE_ROWS}"
        orders = Orders.joined(db, where)
        if orders is None:
            raise ValueError("a newline in a sku or token: not in this study")
        if len(orders):
            blocks.append(orders)
    items = dict(db.execute("SELECT sku, stock FROM items").fetchall())
    db.close()
    return items


def _json_blocks(store: Path, blocks: Blocks) -> dict:
    """Hand store.json's orders over a block at a time, as the checker reads them; return
    its items."""
    with open(store, "rb") as source:
        document = stream_orders(source, stores._WELL_FORMED, stores._ORDERS, blocks)
    if document is None:
        raise ValueError("not store.json as racelab writes it: not in this study")
    return document.items


def measure_once(store: Path, history: Path, memory_limit: str) -> dict:
    """Run one check in a process of its own; return its wall and CPU seconds and peak MB."""
    command = [sys.executable, "-m", "benchmarks.duckcheck", "--one", str(store), str(history),
               "--memory-limit", memory_limit]  # fmt: skip
    measured = run_measured(command)
    if measured.pop("exit") != 0:
        raise RuntimeError(f"the study's check failed on {store}")
    output = measured.pop("output")
    return {**measured, "figures": output}


def run(runs: int, sizes, data: Path, memory_limit: str = MEMORY_LIMIT) -> dict:
    """Measure the study's check and racelab check side by side on each size's kept data,
    alternating engines and formats so that they share the machine's hour."""
    rows, figures = [], {}
    for size in sizes:
        history, json_store, db_store = kept_data(data, size)
        found: dict = {}
        load = os.getloadavg()[0]
        for _ in range(runs):
            for name, store in (("json", json_store), ("sqlite", db_store)):
                found.setdefault(("racelab", name), []).append(check_once(store, history))
                found.setdefault(("duckdb", name), []).append(
                    measure_once(store, history, memory_limit)
                )
        for (engine, name), results in found.items():
            seconds = [r["seconds"] for r in results]
            row = {"engine": engine, "format": name, "N": size,
                   "seconds": round(median(seconds), 2),
                   "runs": ", ".join(f"{s:.2f}" for s in seconds),
                   "CPU s": round(median([r["cpu"] for r in results]), 2),
                   "peak MB": round(median([r["peak_mb"] for r in results])),
                   "load": round(load, 1)}  # fmt: skip
            rows.append(row)
            figures[f"{engine}_{name}_{size}"] = row
    command = f"python -m benchmarks.duckcheck --data {data} --sizes {' '.join(map(str, sizes))}"
    header = list(rows[0]) if rows else []
    print_table("The check, racelab's engine and DuckDB", header,
                [list(r.values()) for r in rows], f"{command} --runs {runs}")  # fmt: skip
    return save("duckcheck", {"command": f"{command} --runs {runs}", "figures": figures})


def main() -> None:
    """Measure, verify, or (--one) run the study's check once and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/checker-data"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory-limit", default=MEMORY_LIMIT)
    parser.add_argument("--verify", nargs=2, type=Path, metavar=("STORE", "HISTORY"))
    parser.add_argument("--one", nargs=2, type=Path, metavar=("STORE", "HISTORY"))
    parser.add_argument("--planted", action="store_true", help="Verify on planted anomalies.")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(check(*args.one, args.memory_limit)))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak RSS {peak / 1024:.0f} MB", file=sys.stderr)
    elif args.verify:
        from benchmarks.duckcheck_verify import verify  # noqa: PLC0415 - it imports check

        sys.exit(0 if verify(*args.verify) else 1)
    elif args.planted:
        from benchmarks.duckcheck_verify import verify_planted  # noqa: PLC0415

        sys.exit(0 if verify_planted() else 1)
    else:
        run(args.runs, args.sizes, args.data, args.memory_limit)


if __name__ == "__main__":
    main()

"""benchmarks/duckcheck.py's figures held to racelab check's: on given files, and on
10,000 operations with every order anomaly planted."""

import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.checker_scale import write_data
from benchmarks.duckcheck import check

ORDER_KEYS = ("id", "sku", "qty", "token", "created_at")
PLANTED_IN_STORE = (
    "DELETE FROM orders WHERE token IN ('t5', 't15')",  # lost
    "INSERT INTO orders SELECT 20001, sku, qty, token, created_at FROM orders WHERE token = 't7'",
    "UPDATE orders SET sku = 'sku-1' WHERE token = 't11'",  # corrupt_record
    "UPDATE orders SET qty = 5 WHERE token = 't12'",
    "INSERT INTO orders VALUES (20002, 'sku-1', 1, 'never', 'x')",  # unexpected
    "INSERT INTO orders VALUES (9, 'sku-10', 1, 't9', 'x')",  # resurrected: cancelled as id 9
)


def planted(work: Path) -> tuple[Path, Path, Path]:
    """Write 10,000 operations with every order anomaly planted, both stores; return paths.

    In the history: an id acked to two tokens, an info and a failed create of stored
    tokens, a retry sent earlier with another sku, a cancel that names no id, and a retry
    sent at the same instant (the first in history order is the one sent).
    In the stores: two orders lost, one stored twice, a sku and a qty changed, a token no
    one sent, and a cancelled order stored again under its id.
    """
    history, json_store, db_store = write_data(work, 10_000)
    lines = history.read_text().splitlines()
    records = {json.loads(line).get("token"): at for at, line in enumerate(lines)}
    _edit(lines, records["t31"], order_id=32)
    _edit(lines, records["t41"], type="info")
    _edit(lines, records["t51"], type="fail", status=None, order_id=None)
    retry = {**json.loads(lines[records["t61"]]), "sku": "sku-5"}
    retry["t0"] -= 0.001
    same_time = {**json.loads(lines[records["t81"]]), "sku": "sku-3"}
    cancel = {**json.loads(lines[records["t71"]]), "op": "cancel", "order_id": None, "sku": None,
              "qty": None, "status": 204}  # fmt: skip
    lines += [json.dumps(r) for r in (retry, same_time, cancel)]
    history.write_text("\n".join(lines) + "\n")
    with sqlite3.connect(db_store) as db:
        for statement in PLANTED_IN_STORE:
            db.execute(statement)
        rows = db.execute(f"SELECT {', '.join(ORDER_KEYS)} FROM orders ORDER BY id").fetchall()
        items = dict(db.execute("SELECT sku, stock FROM items").fetchall())
    document = {"version": 1, "items": items, "next_id": 20003,
                "orders": [dict(zip(ORDER_KEYS, row, strict=True)) for row in rows]}  # fmt: skip
    json_store.write_text(json.dumps(document))
    return history, json_store, db_store


def _edit(lines: list, at: int, **fields) -> None:
    """Give the record on line at the fields given."""
    lines[at] = json.dumps({**json.loads(lines[at]), **fields})


def report_figures(report: dict) -> dict:
    """Return racelab check's JSON report as this study's figures."""
    anomalies = report["anomalies"]
    return {
        "lost": anomalies["lost"],
        "duplicated": anomalies["duplicated"],
        "id_collision": anomalies["id_collision"],
        "unexpected": anomalies["unexpected"],
        "resurrected": anomalies["resurrected"],
        "mismatched": anomalies["corrupt_record"],
        "recovered": report["recovered"],
        "history": {k: report["history"][k] for k in ("creates", "cancels")},
        "stored": report["store"]["orders"],
        "stock": {k: anomalies.get(k, 0) for k in ("stock_mismatch", "oversold")},
        "contention": report["contention"],
    }


def verify(store: Path, history: Path) -> bool:
    """Say whether every figure equals racelab check's on the same files (and print both)."""
    command = [sys.executable, "-m", "racelab", "check", str(store), "--history", str(history)]
    output = subprocess.run([*command, "--json"], capture_output=True, check=False).stdout
    theirs, ours = report_figures(json.loads(output)), check(store, history)
    for name in theirs:
        same = "same" if theirs[name] == ours[name] else "DIFFERENT"
        print(f"{name:14} {same:9} racelab {theirs[name]}  duckdb {ours[name]}")
    return theirs == ours


def verify_planted() -> bool:
    """Say whether every figure equals racelab check's on planted anomalies, both formats."""
    with tempfile.TemporaryDirectory(prefix="duckcheck-planted-") as work:
        history, *stores = planted(Path(work))
        return all([verify(store, history) for store in stores])

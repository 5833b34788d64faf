"""Build tiny stores and histories by hand, in the documented formats, for checker tests."""

import json
import sqlite3
from pathlib import Path

from history import HistoryStream, op_record, parse_lines, run_record

CREATED = "2026-01-01T00:00:00.000Z"
CORPUS_REPORTS = Path(__file__).parent / "corpus" / "reports.json"


def order(order_id, token, sku="sku-1", qty=1) -> dict:
    """Return a stored order."""
    return {"id": order_id, "sku": sku, "qty": qty, "token": token, "created_at": CREATED}


def write_json_store(path, items, orders, next_id=None):
    """Write store.json as documented."""
    doc = {
        "version": len(orders),
        "items": items,
        "orders": orders,
        "next_id": next_id or 1 + max((o["id"] for o in orders), default=0),
    }
    path.write_text(json.dumps(doc))
    return path


def write_sqlite_store(path, items, orders):
    """Write store.db with the documented tables (the naive schema: no constraints)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER)")
        db.execute(
            "CREATE TABLE orders (id INTEGER, sku TEXT, qty INTEGER, token TEXT, created_at TEXT)"
        )
        db.executemany("INSERT INTO items VALUES (?, ?)", items.items())
        db.executemany("INSERT INTO orders VALUES (:id, :sku, :qty, :token, :created_at)", orders)
    return path


def write_store(kind, tmp_path, items, orders):
    """Write a store of either format and return its path."""
    if kind == "json":
        return write_json_store(tmp_path / "store.json", items, orders)
    return write_sqlite_store(tmp_path / "store.db", items, orders)


def create(token, type_="ok", order_id=None, sku="sku-1", qty=1, t0=0.0, t1=0.01, vu=0):
    """Return a create record; an ok one gets an id and status 201."""
    status = {"ok": 201, "fail": 409, "info": None}[type_]
    return op_record(
        "create",
        vu,
        token,
        sku,
        qty,
        order_id,
        status,
        type_,
        t0,
        t1,
        None if type_ != "info" else "timeout",
    )


def cancel(token, order_id, type_="ok", sku="sku-1", qty=1, t0=1.0, t1=1.01, vu=0):
    """Return a cancel record."""
    status = {"ok": 204, "fail": 404, "info": None}[type_]
    return op_record("cancel", vu, token, sku, qty, order_id, status, type_, t0, t1, None)


def history_lines(items, records) -> list[str]:
    """Return the lines of a history: a run record and these operation records."""
    lines = [json.dumps(run_record("http://127.0.0.1:1", CREATED, 1, {}, items))]
    return lines + [json.dumps(r) for r in records]


def history(items, records):
    """Return a parsed History (held in memory) with these operation records."""
    return parse_lines(history_lines(items, records))


def history_stream(path, items, records) -> HistoryStream:
    """Write these records as a history file at path and open it as a stream."""
    path.write_text("\n".join(history_lines(items, records)) + "\n")
    return HistoryStream(path)


def write_rota_store(kind, tmp_path, shifts: dict, items=None, orders=(), next_id=1):
    """Write a store of kind json or sqlite with a rota ({shift: [doctor]}), items and orders."""
    items = {"sku-1": 10} if items is None else items
    if kind == "json":
        doc = {"version": 1, "items": items, "orders": list(orders), "next_id": next_id,
               "shifts": shifts, "leaves": {}}  # fmt: skip
        path = tmp_path / "store.json"
        path.write_text(json.dumps(doc))
        return path
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER)")
        db.execute("CREATE TABLE orders (id INTEGER, sku TEXT, qty INTEGER, token TEXT,"
                   " created_at TEXT)")  # fmt: skip
        db.execute("CREATE TABLE shifts (shift TEXT PRIMARY KEY)")
        db.execute("CREATE TABLE on_call (shift TEXT, doctor TEXT, PRIMARY KEY (shift, doctor))")
        db.executemany("INSERT INTO items VALUES (?, ?)", items.items())
        db.executemany("INSERT INTO orders VALUES (:id, :sku, :qty, :token, :created_at)", orders)
        db.executemany("INSERT INTO shifts VALUES (?)", [(s,) for s in shifts])
        db.executemany("INSERT INTO on_call VALUES (?, ?)",
                       [(s, d) for s, ds in shifts.items() for d in ds])  # fmt: skip
    return path


def corpus_reports() -> dict:
    """Return the golden report documents (tests/corpus/reports.json), by name."""
    return json.loads(CORPUS_REPORTS.read_text())


def corpus_report(name: str) -> str:
    """Return one golden report as the dict writers wrote it, byte for byte."""
    # They wrote json.dumps(indent=2), as to_json does; the corpus keeps each document parsed,
    # and dumping it again gives back the very bytes (checked for all of them when the
    # eleven files became one).
    return json.dumps(corpus_reports()[name], indent=2)


def compare_entry(load: dict | None = None, **fields):
    """Return a compare report's entry: a real one's (tests/corpus/reports.json) with these
    fields changed, and these fields of its load summary."""
    from msgspec.structs import replace

    from shapes.reports import CompareReport, from_json

    entry = from_json(corpus_report("compare_orders"), CompareReport).targets[0]
    return replace(entry, load=replace(entry.load, **(load or {})), **fields)

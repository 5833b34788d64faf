"""What the Step page shows of a store: stock and orders, and a JSON store's text as it is.

Read from the file, never through the server: a session held inside a lock must not make
the page wait for it.
"""

from pathlib import Path

from shapes import ROW_FIELDS

ORDERS_SHOWN = 50
TEXT_SHOWN = 4000


def store_view(data_dir: Path) -> dict:
    """Return {"items", "orders", "text", "error"} of the store in data_dir."""
    from checker.stores import read_store, resolve_store_path

    try:
        path = resolve_store_path(data_dir)
        snapshot = read_store(path, integrity=False)
    except (OSError, ValueError) as e:
        return {"items": {}, "orders": [], "text": None, "error": str(e)}
    orders = snapshot.orders
    shown = [orders[i] for i in range(min(len(orders), ORDERS_SHOWN))]
    text = None
    if Path(path).suffix == ".json":
        text = Path(path).read_text(errors="replace")[:TEXT_SHOWN]
    return {
        "items": snapshot.items or {},
        "orders": [dict(zip(ROW_FIELDS, order, strict=True)) for order in shown],
        "text": text,
        "error": snapshot.corruption or snapshot.unreadable,
    }

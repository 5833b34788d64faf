"""What the SQL stores (SQLite, PostgreSQL) share: the reads, the naive read-then-write,
and their engine's lifecycle."""

from sqlalchemy import Engine, text

from servers.errors import NotFound, OutOfStock, UnknownSku
from servers.stepping import pause
from servers.storage import utc_now
from shapes import ORDER_FIELDS

ORDER_COLUMNS = ", ".join(ORDER_FIELDS)  # both schemas name the columns as the order's fields
SELECT_BY_ID = text(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = :id")
SELECT_BY_TOKEN = text(f"SELECT {ORDER_COLUMNS} FROM orders WHERE token = :token LIMIT 1")
SELECT_PAGE = text(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id > :after ORDER BY id LIMIT :limit")
SELECT_STOCK = text("SELECT stock FROM items WHERE sku = :sku")
SET_STOCK = text("UPDATE items SET stock = :stock WHERE sku = :sku")
GIVE_BACK = text("UPDATE items SET stock = stock + :qty WHERE sku = :sku")
INSERT_ORDER = text(
    "INSERT INTO orders (sku, qty, token, created_at)"
    " VALUES (:sku, :qty, :token, :created_at) RETURNING id"
)
DELETE_ORDER = text("DELETE FROM orders WHERE id = :id")


def new_order(sku: str, qty: int, token: str) -> dict:
    return {"sku": sku, "qty": qty, "token": token, "created_at": utc_now()}


def read_then_write_create(run, sku: str, qty: int, token: str) -> tuple[dict, bool]:
    """The beginner's create: look the token up, read the stock, decide in Python, write.

    run(statement, params) executes one statement: in its own transaction (naive), or in
    one transaction at the strategy's isolation level.
    """
    pause("read")
    existing = run(SELECT_BY_TOKEN, {"token": token}).first()
    if existing is not None:
        return dict(existing._mapping), False
    row = run(SELECT_STOCK, {"sku": sku}).first()
    if row is None:
        raise UnknownSku(f"No item has sku {sku!r}.")
    return write_what_was_read(run, row.stock, sku, qty, token)


def write_what_was_read(run, stock: int, sku: str, qty: int, token: str) -> tuple[dict, bool]:
    """Decide in Python from the stock read, then write the new stock and the order."""
    if stock < qty:
        raise OutOfStock.left(stock, sku, qty)
    pause("write")
    run(SET_STOCK, {"stock": stock - qty, "sku": sku})
    order = new_order(sku, qty, token)
    return {"id": run(INSERT_ORDER, order).scalar_one(), **order}, True


def read_then_write_cancel(run, order_id: int) -> None:
    """The beginner's cancel: find the order, then give its qty back and delete it."""
    pause("read")
    row = run(SELECT_BY_ID, {"id": order_id}).first()
    if row is None:
        raise NotFound(f"No order has id {order_id}.")
    pause("write")
    run(GIVE_BACK, {"qty": row.qty, "sku": row.sku})
    run(DELETE_ORDER, {"id": order_id})


class SqlReads:
    """Orders read through self.engine (a SQLAlchemy engine), and its handling across forks."""

    engine: Engine  # each store's own, made when it opens

    def list_orders(self, limit: int, after_id: int) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(SELECT_PAGE, {"after": after_id, "limit": limit})
            return [dict(row._mapping) for row in rows]

    def get_order(self, order_id: int) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(SELECT_BY_ID, {"id": order_id}).first()
        if row is None:
            raise NotFound(f"No order has id {order_id}.")
        return dict(row._mapping)

    def after_fork(self) -> None:
        # SQLAlchemy's rule for forked processes: never reuse the parent's connections.
        self.engine.dispose(close=False)

    def close(self) -> None:
        self.engine.dispose()

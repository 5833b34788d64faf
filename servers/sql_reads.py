"""What the SQL stores (SQLite, PostgreSQL) share: the reads, and their engine's lifecycle."""

from sqlalchemy import Engine, text

from servers.errors import NotFound
from shapes import ORDER_FIELDS

ORDER_COLUMNS = ", ".join(ORDER_FIELDS)  # both schemas name the columns as the order's fields
SELECT_BY_ID = text(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = :id")
SELECT_BY_TOKEN = text(f"SELECT {ORDER_COLUMNS} FROM orders WHERE token = :token LIMIT 1")
SELECT_PAGE = text(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id > :after ORDER BY id LIMIT :limit")


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

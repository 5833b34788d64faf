"""PostgreSQL strategies: the read-then-write habit at three isolation levels, and two fixes.

Hermitage's table, live: `naive` at READ COMMITTED loses updates; REPEATABLE READ turns
them into errors; SERIALIZABLE with a retry makes the same code correct; `for-update` and
`transactional` fix it at READ COMMITTED with a row lock or a conditional update.
"""

import logging
import random
import time

from sqlalchemy import exc

from servers.errors import Busy, NotFound, OutOfStock, UnknownSku
from servers.postgres_store.oncall import (
    ForUpdatePostgresOnCall,
    NaivePostgresOnCall,
    RepeatableReadPostgresOnCall,
    SerializablePostgresOnCall,
    TransactionalPostgresOnCall,
)
from servers.postgres_store.store import (
    DELETE_RETURNING,
    KEYED_SCHEMA,
    LOCK_ORDER,
    LOCK_STOCK,
    TAKE,
    TRANSACTIONAL_SCHEMA,
    PostgresStore,
    serialization_failure,
)
from servers.sql import (
    DELETE_ORDER,
    GIVE_BACK,
    INSERT_ORDER,
    SELECT_BY_TOKEN,
    SELECT_STOCK,
    new_order,
    read_then_write_cancel,
    read_then_write_create,
    write_what_was_read,
)
from servers.stepping import pause

MAX_ATTEMPTS = 10  # serializable's tries of one write before it answers 503 busy
log = logging.getLogger("racelab.postgres")


class NaivePostgresStore(NaivePostgresOnCall, PostgresStore):
    """The sqlite naive code on a database server: every statement its own transaction."""

    def _each_alone(self, statement, params):
        with self.engine.begin() as conn:
            return conn.execute(statement, params)

    def create_order(self, sku: str, qty: int, token: str) -> tuple[dict, bool]:
        return read_then_write_create(self._each_alone, sku, qty, token)

    def cancel_order(self, order_id: int) -> None:
        read_then_write_cancel(self._each_alone, order_id)


class RepeatableReadPostgresStore(RepeatableReadPostgresOnCall, PostgresStore):
    """The naive code in one REPEATABLE READ transaction, and no retry."""

    schema = KEYED_SCHEMA

    def create_order(self, sku: str, qty: int, token: str) -> tuple[dict, bool]:
        return self._once_per_token(
            token, lambda: self._refusing_conflicts(read_then_write_create, sku, qty, token)
        )

    def cancel_order(self, order_id: int) -> None:
        self._refusing_conflicts(read_then_write_cancel, order_id)

    def _refusing_conflicts(self, body, *args):
        try:
            with self._transaction("REPEATABLE READ") as run:
                return body(run, *args)
        except exc.DBAPIError as e:
            if serialization_failure(e):
                raise Busy(
                    "A concurrent write changed what this one read (a serialization "
                    "failure); nothing was written: send it again."
                ) from None
            raise


class SerializablePostgresStore(SerializablePostgresOnCall, PostgresStore):
    """The naive code in one SERIALIZABLE transaction, retried whole on 40001."""

    schema = KEYED_SCHEMA

    def create_order(self, sku: str, qty: int, token: str) -> tuple[dict, bool]:
        return self._once_per_token(
            token, lambda: self._retrying(read_then_write_create, sku, qty, token)
        )

    def cancel_order(self, order_id: int) -> None:
        self._retrying(read_then_write_cancel, order_id)

    def _retrying(self, body, *args):
        """Run body in a SERIALIZABLE transaction, again from the start after a 40001."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self._transaction("SERIALIZABLE") as run:
                    result = body(run, *args)
                if attempt:
                    log.warning("serializable: a write took %d retries", attempt)
                return result
            except exc.DBAPIError as e:
                if not serialization_failure(e):
                    raise
            # Jittered backoff, so the transactions that collided do not collide again.
            time.sleep(random.uniform(0, 0.002 * 2**attempt))
        raise Busy(f"The write conflicted {MAX_ATTEMPTS} times in a row; nothing was written.")


class ForUpdatePostgresStore(ForUpdatePostgresOnCall, PostgresStore):
    """The read-then-write, with the item's row locked first (SELECT ... FOR UPDATE)."""

    schema = KEYED_SCHEMA

    def create_order(self, sku: str, qty: int, token: str) -> tuple[dict, bool]:
        return self._once_per_token(token, lambda: self._create(sku, qty, token))

    def _create(self, sku: str, qty: int, token: str) -> tuple[dict, bool]:
        with self._transaction("READ COMMITTED") as run:
            pause("read")
            row = run(LOCK_STOCK, {"sku": sku}).first()
            if row is None:
                raise UnknownSku(f"No item has sku {sku!r}.")
            # Under the lock: a retried copy of this order waited here for the first.
            existing = run(SELECT_BY_TOKEN, {"token": token}).first()
            if existing is not None:
                return dict(existing._mapping), False
            return write_what_was_read(run, row.stock, sku, qty, token)

    def cancel_order(self, order_id: int) -> None:
        with self._transaction("READ COMMITTED") as run:
            pause("read")
            row = run(LOCK_ORDER, {"id": order_id}).first()
            if row is None:  # a concurrent cancel deleted it while we waited
                raise NotFound(f"No order has id {order_id}.")
            pause("write")
            run(GIVE_BACK, {"qty": row.qty, "sku": row.sku})
            run(DELETE_ORDER, {"id": order_id})


class TransactionalPostgresStore(TransactionalPostgresOnCall, PostgresStore):
    """One transaction, a conditional update, a unique token: as sqlite's transactional."""

    schema = TRANSACTIONAL_SCHEMA

    def create_order(self, sku: str, qty: int, token: str) -> tuple[dict, bool]:
        return self._once_per_token(token, lambda: self._create(sku, qty, token))

    def _create(self, sku: str, qty: int, token: str) -> tuple[dict, bool]:
        with self._transaction("READ COMMITTED") as run:
            pause("read")
            existing = run(SELECT_BY_TOKEN, {"token": token}).first()
            if existing is not None:
                return dict(existing._mapping), False
            pause("write")
            if not run(TAKE, {"qty": qty, "sku": sku}).rowcount:
                row = run(SELECT_STOCK, {"sku": sku}).first()
                if row is None:
                    raise UnknownSku(f"No item has sku {sku!r}.")
                raise OutOfStock.left(row.stock, sku, qty)
            order = new_order(sku, qty, token)
            return {"id": run(INSERT_ORDER, order).scalar_one(), **order}, True

    def cancel_order(self, order_id: int) -> None:
        with self._transaction("READ COMMITTED") as run:
            pause("read")
            pause("write")
            row = run(DELETE_RETURNING, {"id": order_id}).first()
            if row is None:
                raise NotFound(f"No order has id {order_id}.")
            run(GIVE_BACK, {"qty": row.qty, "sku": row.sku})

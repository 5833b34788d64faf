"""The on-call workload on PostgreSQL: one leave, the way each strategy's idea says.

naive, repeatable-read and serializable run sqlite naive's read-decide-delete
(servers/sqlite_store/oncall.py) alone, in one snapshot, or serializably; for-update locks
the shift's rows before it reads them; transactional decides and deletes in one
conditional DELETE. The two leaves of write skew delete different rows: only what makes
them meet (a lock on the rows both read, or SERIALIZABLE's read dependencies) keeps the rule.
"""

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import exc, text

from servers import oncall
from servers.sqlite_store.oncall import (
    DELETE_ON_CALL,
    INSERT_LEAVE,
    SELECT_LEAVE,
    SELECT_ON_CALL,
    SELECT_SHIFT,
    SqlOnCallReads,
    leave,
)
from servers.stepping import pause

UNIQUE_VIOLATION = "23505"
SCHEMA = (
    "CREATE TABLE shifts (shift TEXT PRIMARY KEY)",
    "CREATE TABLE on_call (shift TEXT NOT NULL, doctor TEXT NOT NULL, PRIMARY KEY (shift, doctor))",
    "CREATE TABLE leaves (token TEXT PRIMARY KEY, shift TEXT, doctor TEXT, answer TEXT)",
)
LOCK_ON_CALL = text("SELECT doctor FROM on_call WHERE shift = :shift ORDER BY doctor FOR UPDATE")
# The one-statement fix that holds for stock: it decides on a count it reads from the
# statement's snapshot, and locks only the row it deletes; a concurrent leave of another
# doctor of the shift deletes another row, and neither waits for the other.
DELETE_IF_NOT_LAST = text(
    "DELETE FROM on_call WHERE shift = :shift AND doctor = :doctor"
    " AND (SELECT count(*) FROM on_call WHERE shift = :shift) > 1"
)


def seed(db, shifts: int, doctors: int) -> None:
    """Fill the rota tables through a psycopg connection with the seed rota."""
    rota = oncall.seed_shifts(shifts, doctors)
    cursor = db.cursor()
    cursor.executemany("INSERT INTO shifts VALUES (%s)", [(shift,) for shift in rota])
    cursor.executemany("INSERT INTO on_call VALUES (%s, %s)", oncall.rows(rota))


def _doctors(run, statement, shift: str) -> list[str]:
    return [row.doctor for row in run(statement, {"shift": shift}).all()]


def _known(run, shift: str) -> bool:
    return run(text(SELECT_SHIFT), {"shift": shift}).first() is not None


def _replayed(run, token: str):
    done = run(text(SELECT_LEAVE), {"token": token}).first()
    return None if done is None else (json.loads(done.answer), False)


def _record(run, shift: str, doctor: str, token: str, stays: list[str]) -> tuple[dict, bool]:
    answer = oncall.encode_answer(shift, stays)
    run(text(INSERT_LEAVE), {"token": token, "shift": shift, "doctor": doctor, "answer": answer})
    return json.loads(answer), True


def locked_leave(run, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
    """for-update: lock the shift's rows, then look the token up and decide under the lock."""
    pause("read")
    seen = _doctors(run, LOCK_ON_CALL, shift)
    replay = _replayed(run, token)  # under the lock: a copy of this leave waited for the first
    if replay is not None:
        return replay
    stays = oncall.decide(shift, doctor, seen if seen or _known(run, shift) else None)
    pause("write")
    run(text(DELETE_ON_CALL), {"shift": shift, "doctor": doctor})
    return _record(run, shift, doctor, token, stays)


def conditional_leave(run, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
    """transactional: one DELETE that checks the count and deletes, at READ COMMITTED."""
    pause("read")
    replay = _replayed(run, token)
    if replay is not None:
        return replay
    pause("write")
    if not run(DELETE_IF_NOT_LAST, {"shift": shift, "doctor": doctor}).rowcount:
        seen = _doctors(run, text(SELECT_ON_CALL), shift)
        oncall.decide(shift, doctor, seen if seen or _known(run, shift) else None)
        raise oncall.LastOnCall(f"Doctor {doctor!r} is the last one on call for shift {shift!r}.")
    return _record(run, shift, doctor, token, _doctors(run, text(SELECT_ON_CALL), shift))


class PostgresOnCall(SqlOnCallReads):
    """GET /shifts, and a leave whose token a concurrent copy stored first."""

    # The store's own ways to run a leave: each statement alone, in one transaction that
    # refuses a conflict, or in one retried whole.
    _each_alone: Callable[..., Any]
    _refusing_conflicts: Callable[..., Any]
    _retrying: Callable[..., Any]

    def _once_per_leave(self, token: str, leave_once) -> tuple[dict, bool]:
        """Run leave_once(); when a copy with this token committed first, answer as it was."""
        try:
            return leave_once()
        except exc.IntegrityError as e:
            if getattr(e.orig, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
        with self.engine.connect() as conn:
            return _replayed(conn.execute, token)


class NaivePostgresOnCall(PostgresOnCall):
    """sqlite naive's leave, each statement its own transaction."""

    def leave_shift(self, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
        return leave(self._each_alone, shift, doctor, token)


class RepeatableReadPostgresOnCall(PostgresOnCall):
    """The same leave in one REPEATABLE READ transaction: both leaves read one snapshot."""

    def leave_shift(self, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
        return self._once_per_leave(
            token, lambda: self._refusing_conflicts(leave, shift, doctor, token)
        )


class SerializablePostgresOnCall(PostgresOnCall):
    """The same leave in one SERIALIZABLE transaction, retried whole on 40001."""

    def leave_shift(self, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
        return self._once_per_leave(token, lambda: self._retrying(leave, shift, doctor, token))


class ForUpdatePostgresOnCall(PostgresOnCall):
    """The shift's rows locked (SELECT ... FOR UPDATE) before they are read."""

    def leave_shift(self, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
        return self._once_per_leave(
            token, lambda: self._in_read_committed(locked_leave, shift, doctor, token)
        )

    def _in_read_committed(self, body, *args):
        with self._transaction("READ COMMITTED") as run:
            return body(run, *args)


class TransactionalPostgresOnCall(ForUpdatePostgresOnCall):
    """A conditional DELETE that counts and deletes in one statement, at READ COMMITTED."""

    def leave_shift(self, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
        return self._once_per_leave(
            token, lambda: self._in_read_committed(conditional_leave, shift, doctor, token)
        )

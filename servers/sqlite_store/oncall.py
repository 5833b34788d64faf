"""The on-call workload on store.db: the naive read-decide-delete, and BEGIN IMMEDIATE's.

A leave reads who is on call, decides in Python (servers/oncall.py) and deletes one row.
Naive runs each statement alone, so two leaves of one shift can both read two doctors and
each delete a different one: write skew (G2-item). Transactional takes the write lock
before it reads, so the second leave reads what the first left.
"""

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Engine, text

from servers import oncall
from servers.stepping import pause

# The rota's tables (servers/oncall.py): a shift's doctors are rows, so "at least one on
# call" is a rule over rows that no row's own constraint can state.
SCHEMA = (
    "CREATE TABLE shifts (shift TEXT PRIMARY KEY)",
    "CREATE TABLE on_call (shift TEXT NOT NULL, doctor TEXT NOT NULL, PRIMARY KEY (shift, doctor))",
    "CREATE TABLE leaves (token TEXT PRIMARY KEY, shift TEXT, doctor TEXT, answer TEXT)",
)
TABLES = ("leaves", "on_call", "shifts")
SELECT_LEAVE = "SELECT answer FROM leaves WHERE token = :token"
SELECT_SHIFT = "SELECT shift FROM shifts WHERE shift = :shift"
SELECT_ON_CALL = "SELECT doctor FROM on_call WHERE shift = :shift ORDER BY doctor"
DELETE_ON_CALL = "DELETE FROM on_call WHERE shift = :shift AND doctor = :doctor"
INSERT_LEAVE = (
    "INSERT INTO leaves (token, shift, doctor, answer) VALUES (:token, :shift, :doctor, :answer)"
)


def seed(db, shifts: int, doctors: int) -> None:
    """Fill the rota tables of a sqlite3 (or DB-API) connection with the seed rota."""
    rota = oncall.seed_shifts(shifts, doctors)
    db.executemany("INSERT INTO shifts VALUES (?)", [(shift,) for shift in rota])
    db.executemany("INSERT INTO on_call VALUES (?, ?)", oncall.rows(rota))


def read_shifts(run) -> dict[str, list[str]]:
    """Return who is on call by shift, shifts in order; run(sql, params) runs one statement."""
    found: dict[str, list[str]] = {
        row.shift: [] for row in run(text("SELECT shift FROM shifts ORDER BY shift"), {})
    }
    for row in run(text("SELECT shift, doctor FROM on_call ORDER BY shift, doctor"), {}):
        found.setdefault(row.shift, []).append(row.doctor)
    return found


def leave(run, shift: str, doctor: str, token: str, read_point=True) -> tuple[dict, bool]:
    """The read-decide-delete, each statement through run(sql, params); pauses at read
    (unless the caller already has: read_point False) and at write."""
    if read_point:
        pause("read")
    done = run(text(SELECT_LEAVE), {"token": token}).first()
    if done is not None:
        return json.loads(done.answer), False
    known = run(text(SELECT_SHIFT), {"shift": shift}).first() is not None
    seen = [row.doctor for row in run(text(SELECT_ON_CALL), {"shift": shift})]
    stays = oncall.decide(shift, doctor, seen if known else None)
    pause("write")
    run(text(DELETE_ON_CALL), {"shift": shift, "doctor": doctor})
    answer = oncall.encode_answer(shift, stays)
    run(text(INSERT_LEAVE), {"token": token, "shift": shift, "doctor": doctor, "answer": answer})
    return json.loads(answer), True


class SqlOnCallReads:
    """GET /shifts through self.engine, for any SQL store."""

    engine: Engine  # the store's

    def shifts(self) -> dict[str, list[str]]:
        with self.engine.connect() as conn:
            return read_shifts(conn.execute)


class NaiveSqliteOnCall(SqlOnCallReads):
    """Each statement of the leave its own transaction, as naive's orders."""

    # The store's: run(statement, params) for one request, each statement alone.
    _statement_runner: Callable[[], Callable[..., Any]]

    def leave_shift(self, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
        return leave(self._statement_runner(), shift, doctor, token)


class TransactionalSqliteOnCall(SqlOnCallReads):
    """The whole leave inside self._write(): the writer queue and BEGIN IMMEDIATE."""

    _write: Callable[[], AbstractContextManager[Any]]  # the store's: the queue, BEGIN IMMEDIATE

    def leave_shift(self, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
        with self._write() as conn:
            return leave(conn.execute, shift, doctor, token, read_point=False)

"""The storage interface every strategy implements; the routes see nothing else."""

import abc
import contextlib
from datetime import datetime, timezone
from pathlib import Path

from servers.oncall import DOCTORS_DEFAULT, SHIFTS_DEFAULT


def utc_now() -> str:
    """Return the current time as ISO-8601 UTC with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seed_items(skus: int, stock: int) -> dict[str, int]:
    """Return the seed stock: sku-1 .. sku-K with S units each."""
    return {f"sku-{n}": stock for n in range(1, skus + 1)}


class Store(abc.ABC):
    """One backend with one locking strategy, bound to a data dir.

    What it claims and where it should hold are its entry in the list of strategies
    (servers/strategy.py), plain data; the class holds the code.
    """

    filename: str = ""
    takes_database_url = False  # True where the store lives on a database server

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / self.filename

    @classmethod
    @contextlib.contextmanager
    def serving(cls, data_dir, database_url=None):
        """Run what the store needs while it is served; yield a line saying what, or None.

        A file needs nothing; a database server may be started here and stopped after.
        """
        yield None

    @classmethod
    @abc.abstractmethod
    def initialize(
        cls, data_dir, reset: bool, skus: int, stock: int,
        shifts: int = SHIFTS_DEFAULT, doctors: int = DOCTORS_DEFAULT,
    ) -> None:  # fmt: skip
        """Create and seed the store if missing (or if reset); refuse an unreadable one."""

    @classmethod
    def reseed(
        cls, data_dir, skus: int, stock: int,
        shifts: int = SHIFTS_DEFAULT, doctors: int = DOCTORS_DEFAULT,
    ) -> None:  # fmt: skip
        """Empty the store and seed it again, in place, while its idle server runs.

        A file is replaced whole (every request reads it anew); a database keeps its file
        or tables, so the server's open connections stay good.
        """
        cls.initialize(data_dir, reset=True, skus=skus, stock=stock, shifts=shifts,
                       doctors=doctors)  # fmt: skip

    @abc.abstractmethod
    def items(self) -> dict[str, int]:
        """Return stock by sku."""

    @abc.abstractmethod
    def create_order(self, sku: str, qty: int, token: str) -> tuple[dict, bool]:
        """Store an order and take its qty from stock; return (order, created)."""

    @abc.abstractmethod
    def list_orders(self, limit: int, after_id: int) -> list[dict]:
        """Return up to limit orders with id > after_id, ordered by id."""

    @abc.abstractmethod
    def get_order(self, order_id: int) -> dict:
        """Return one order or raise NotFound."""

    @abc.abstractmethod
    def cancel_order(self, order_id: int) -> None:
        """Delete an order and put its qty back into stock, or raise NotFound."""

    @abc.abstractmethod
    def shifts(self) -> dict[str, list[str]]:
        """Return who is on call, by shift."""

    @abc.abstractmethod
    def leave_shift(self, shift: str, doctor: str, token: str) -> tuple[dict, bool]:
        """Take doctor off call for shift unless they are the last; return (answer, created).

        A known token returns its first answer, created False (servers/oncall.py: the rule).
        """

    def after_fork(self) -> None:  # noqa: B027 - most stores hold nothing across a fork
        """Forget handles inherited from a parent process."""

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to release
        """Release connections and handles."""

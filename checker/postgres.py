"""Read a PostgreSQL store by its documented schema: by URL, or from a private server's folder.

The schema is store.db's (docs/contract.md): items(sku, stock) and orders(id, sku, qty,
token, created_at). The checker reads it with plain psycopg, never through the servers'
code; a private server that has stopped is started for the read and stopped again.
"""

from pathlib import Path

import pgcluster

URL_PREFIXES = ("postgresql://", "postgres://")
PRIVATE_DIR = "pgdata"  # what `racelab serve postgres` makes in its data dir
CONNINFO_FILE = "database.url"  # where it wrote the database it used
CONNECT_TIMEOUT_S = 10


def is_postgres_store(location) -> bool:
    """Say whether location names a PostgreSQL store: a URL, a data dir or a cluster folder."""
    if isinstance(location, str) and location.startswith(URL_PREFIXES):
        return True
    path = Path(location)
    return path.is_dir() and any(
        p.is_file()
        for p in (path / "PG_VERSION", path / PRIVATE_DIR / "PG_VERSION", path / CONNINFO_FILE)
    )


def read_postgres(location, snapshot, read_tables) -> None:
    """Fill snapshot from the store at location with read_tables(snapshot, connection)."""
    # Imported here: psycopg takes a fifth of a second to import, and most checks read a file.
    import psycopg  # noqa: PLC0415

    try:
        if isinstance(location, str) and location.startswith(URL_PREFIXES):
            _read(location, snapshot, read_tables)
            return
        path = Path(location)
        cluster = path if (path / "PG_VERSION").is_file() else path / PRIVATE_DIR
        if (cluster / "PG_VERSION").is_file():
            with pgcluster.attached(cluster) as conninfo:
                _read(conninfo, snapshot, read_tables)
            return
        _read((path / CONNINFO_FILE).read_text().strip(), snapshot, read_tables)
    except pgcluster.ClusterError as e:
        snapshot.unreadable = f"its PostgreSQL server could not be started: {e}"
    except psycopg.Error as e:
        snapshot.unreadable = f"cannot be read as a racelab PostgreSQL store ({_first_line(e)})"
    except OSError as e:
        snapshot.unreadable = f"cannot be read: {e}"


def _read(conninfo: str, snapshot, read_tables) -> None:
    # One REPEATABLE READ transaction: items and orders from the same snapshot, even if
    # a server is still writing.
    import psycopg  # noqa: PLC0415

    with psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S) as db:
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        read_tables(snapshot, db)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

"""The PostgreSQL schemas: a beginner's, and one with the constraints that make it safe.

The same tables as store.db (docs/contract.md), so the checker reads both alike.
"""

# An identity column never hands an id out twice, even after a cancel deletes the highest.
# The beginner's schema indexes the token for speed; a plain index does not stop duplicates.
NAIVE_SCHEMA = (
    "CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER)",
    "CREATE TABLE orders (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sku TEXT,"
    " qty INTEGER, token TEXT, created_at TEXT)",
    "CREATE INDEX orders_token ON orders (token)",
)

# The token is the client's idempotency key. Two copies of one order may name different
# skus (a client bug, or a replay with a changed body), and a lock per sku does not
# serialize them: only a unique index on the token keeps one order per token. Every
# strategy that claims to hold has one (specs/same-token-two-skus.toml).
KEYED_SCHEMA = (*NAIVE_SCHEMA[:2], "CREATE UNIQUE INDEX orders_token ON orders (token)")

TRANSACTIONAL_SCHEMA = (
    "CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER NOT NULL CHECK (stock >= 0))",
    "CREATE TABLE orders (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " sku TEXT NOT NULL REFERENCES items(sku), qty INTEGER NOT NULL,"
    " token TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)",
)

DROP = tuple(
    f"DROP TABLE IF EXISTS {table}"
    for table in ("orders", "items", "leaves", "on_call", "shifts")  # the rota: oncall.py
)
# A database may be shared: racelab reuses or drops only tables that carry its mark.
TABLES = ("items", "orders", "shifts", "on_call", "leaves")
MARK = "racelab store: made by racelab serve postgres; racelab serve --reset replaces it"
MARK_TABLES = tuple(f"COMMENT ON TABLE {table} IS '{MARK}'" for table in TABLES)

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

TRANSACTIONAL_SCHEMA = (
    "CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER NOT NULL CHECK (stock >= 0))",
    "CREATE TABLE orders (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " sku TEXT NOT NULL REFERENCES items(sku), qty INTEGER NOT NULL,"
    " token TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)",
)

DROP = ("DROP TABLE IF EXISTS orders", "DROP TABLE IF EXISTS items")
ORDER_COLUMNS = "id, sku, qty, token, created_at"

"""The store.db schemas: a beginner's, and one with the constraints that make it safe."""

# AUTOINCREMENT in both: an id is never handed out twice, even after a cancel deletes
# the highest one, so the checker can treat any reused id as an anomaly.
NAIVE_SCHEMA = (
    "CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT, qty INTEGER,"
    " token TEXT, created_at TEXT)",
)

TRANSACTIONAL_SCHEMA = (
    "CREATE TABLE items (sku TEXT PRIMARY KEY, stock INTEGER NOT NULL CHECK (stock >= 0))",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " sku TEXT NOT NULL REFERENCES items(sku), qty INTEGER NOT NULL,"
    " token TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)",
)

# The on-call rota (servers/oncall.py): a shift's doctors are rows, so "at least one on
# call" is a rule over rows that no row's own constraint can state.
ONCALL_SCHEMA = (
    "CREATE TABLE shifts (shift TEXT PRIMARY KEY)",
    "CREATE TABLE on_call (shift TEXT NOT NULL, doctor TEXT NOT NULL, PRIMARY KEY (shift, doctor))",
    "CREATE TABLE leaves (token TEXT PRIMARY KEY, shift TEXT, doctor TEXT, answer TEXT)",
)
ONCALL_TABLES = ("leaves", "on_call", "shifts")

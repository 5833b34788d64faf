// The PostgreSQL twin on the `pg` package, twice: the way a student writes it first, and the fix.
//
// pgStore reads the stock, works out what is left in JavaScript and writes that back: two
// requests that both SELECT before either UPDATEs both sell the last unit (a lost update).
// pgForUpdateStore does the same inside a transaction and reads with SELECT ... FOR UPDATE:
// the second request's read waits for the first to commit, then sees what it left.
// Neither names a pause point: `racelab step` steps them at their own SQL ({database_url}).
const { Pool } = require("pg");

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS items(sku TEXT PRIMARY KEY, stock INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS orders(id SERIAL PRIMARY KEY, sku TEXT NOT NULL, qty INTEGER NOT NULL,
    token TEXT UNIQUE NOT NULL, created_at TEXT NOT NULL)`;

function order(row) {
  return row && { id: row.id, sku: row.sku, qty: row.qty, token: row.token, created_at: row.created_at };
}

const unknown = (sku) => [404, { error: "unknown_sku", message: `sku ${sku} is not sold here` }];
const soldOut = (sku, left, qty) => [409, { error: "out_of_stock", message: `${sku} has ${left} left, not ${qty}` }];

// What both stores share: the tables, the reads, and the connection pool.
function pgBase(databaseUrl, skus, stock) {
  const pool = new Pool({ connectionString: databaseUrl, max: 10 });
  return {
    pool,
    file: "PostgreSQL",
    async init(reset) {
      await pool.query(SCHEMA);
      if (reset) await pool.query("TRUNCATE items, orders RESTART IDENTITY");
      for (let n = 1; n <= skus; n++) {
        await pool.query("INSERT INTO items VALUES ($1, $2) ON CONFLICT DO NOTHING", [`sku-${n}`, stock]);
      }
    },
    async items() {
      const { rows } = await pool.query("SELECT sku, stock FROM items ORDER BY sku");
      return rows;
    },
    async get(id) {
      const { rows } = await pool.query("SELECT * FROM orders WHERE id = $1", [id]);
      return order(rows[0]) || null;
    },
    async page(limit, afterId) {
      const { rows } = await pool.query("SELECT * FROM orders WHERE id > $1 ORDER BY id LIMIT $2", [afterId, limit]);
      return rows.map(order);
    },
  };
}

// As a student writes it: read, compute, write back, one statement at a time.
function pgStore(databaseUrl, skus, stock) {
  const base = pgBase(databaseUrl, skus, stock);
  const { pool } = base;
  return {
    ...base,
    async create({ sku, qty, token }) {
      const known = await pool.query("SELECT * FROM orders WHERE token = $1", [token]);
      if (known.rows.length) return [200, order(known.rows[0])];
      const { rows } = await pool.query("SELECT stock FROM items WHERE sku = $1", [sku]);
      if (rows.length === 0) return unknown(sku);
      const left = rows[0].stock;
      if (left < qty) return soldOut(sku, left, qty);
      await pool.query("UPDATE items SET stock = $1 WHERE sku = $2", [left - qty, sku]);
      const created = await pool.query(
        "INSERT INTO orders(sku, qty, token, created_at) VALUES ($1, $2, $3, $4) RETURNING *",
        [sku, qty, token, new Date().toISOString()],
      );
      return [201, order(created.rows[0])];
    },
    async cancel(id) {
      const { rows } = await pool.query("SELECT sku, qty FROM orders WHERE id = $1", [id]);
      if (rows.length === 0) return false;
      await pool.query("DELETE FROM orders WHERE id = $1", [id]);
      await pool.query("UPDATE items SET stock = stock + $1 WHERE sku = $2", [rows[0].qty, rows[0].sku]);
      return true;
    },
  };
}

// The fix: the same steps in one transaction, each row read FOR UPDATE, so a second
// request's read waits for the first to commit and sees the stock it left.
function pgForUpdateStore(databaseUrl, skus, stock) {
  const base = pgBase(databaseUrl, skus, stock);
  async function transaction(work) {
    const client = await base.pool.connect();
    try {
      await client.query("BEGIN");
      const [commit, result] = await work(client);
      await client.query(commit ? "COMMIT" : "ROLLBACK");
      return result;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }
  return {
    ...base,
    create: ({ sku, qty, token }) => transaction(async (db) => {
      const known = await db.query("SELECT * FROM orders WHERE token = $1", [token]);
      if (known.rows.length) return [false, [200, order(known.rows[0])]];
      const { rows } = await db.query("SELECT stock FROM items WHERE sku = $1 FOR UPDATE", [sku]);
      if (rows.length === 0) return [false, unknown(sku)];
      const left = rows[0].stock;
      if (left < qty) return [false, soldOut(sku, left, qty)];
      await db.query("UPDATE items SET stock = $1 WHERE sku = $2", [left - qty, sku]);
      const created = await db.query(
        "INSERT INTO orders(sku, qty, token, created_at) VALUES ($1, $2, $3, $4) RETURNING *",
        [sku, qty, token, new Date().toISOString()],
      );
      return [true, [201, order(created.rows[0])]];
    }),
    cancel: (id) => transaction(async (db) => {
      const { rows } = await db.query("SELECT sku, qty FROM orders WHERE id = $1 FOR UPDATE", [id]);
      if (rows.length === 0) return [false, false];
      await db.query("DELETE FROM orders WHERE id = $1", [id]);
      await db.query("UPDATE items SET stock = stock + $1 WHERE sku = $2", [rows[0].qty, rows[0].sku]);
      return [true, true];
    }),
  };
}

module.exports = { pgStore, pgForUpdateStore };

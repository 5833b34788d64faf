// The SQLite twin: one file, each write one transaction with a conditional UPDATE, so a
// sale takes stock only if it is still there and nothing is read and written back later.
// node:sqlite is built into Node 22.13+ (no native npm package to compile).
const path = require("node:path");
const fs = require("node:fs");
const { DatabaseSync } = require("node:sqlite");

function sqliteStore(dataDir, skus, stock) {
  const file = path.join(dataDir, "store.db");
  let db;
  const one = (sql, ...args) => db.prepare(sql).get(...args) || null;
  function transaction(work) {
    db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      db.exec("COMMIT");
      return result;
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
  }
  return {
    file,
    async init(reset) {
      if (reset) fs.rmSync(file, { force: true });
      db = new DatabaseSync(file);
      db.exec("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000");
      db.exec(`CREATE TABLE IF NOT EXISTS items(sku TEXT PRIMARY KEY, stock INTEGER NOT NULL);
               CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT,
                 qty INTEGER, token TEXT UNIQUE, created_at TEXT)`);
      if (one("SELECT count(*) AS n FROM items").n === 0) {
        const insert = db.prepare("INSERT INTO items VALUES (?, ?)");
        transaction(() => { for (let n = 1; n <= skus; n++) insert.run(`sku-${n}`, stock); });
      }
    },
    async items() {
      return db.prepare("SELECT sku, stock FROM items ORDER BY rowid").all().map((r) => ({ ...r }));
    },
    async create({ sku, qty, token }) {
      return transaction(() => {
        const known = one("SELECT * FROM orders WHERE token = ?", token);
        if (known) return [200, { ...known }];
        const item = one("SELECT stock FROM items WHERE sku = ?", sku);
        if (!item) return [404, { error: "unknown_sku", message: `sku ${sku} is not sold here` }];
        const taken = db.prepare("UPDATE items SET stock = stock - ? WHERE sku = ? AND stock >= ?").run(qty, sku, qty);
        if (taken.changes === 0) return [409, { error: "out_of_stock", message: `${sku} has ${item.stock} left, not ${qty}` }];
        const created = new Date().toISOString();
        const row = db.prepare("INSERT INTO orders(sku, qty, token, created_at) VALUES (?, ?, ?, ?)").run(sku, qty, token, created);
        return [201, { id: Number(row.lastInsertRowid), sku, qty, token, created_at: created }];
      });
    },
    async get(id) {
      const order = one("SELECT * FROM orders WHERE id = ?", id);
      return order && { ...order };
    },
    async page(limit, afterId) {
      return db.prepare("SELECT * FROM orders WHERE id > ? ORDER BY id LIMIT ?").all(afterId, limit).map((r) => ({ ...r }));
    },
    async cancel(id) {
      return transaction(() => {
        const order = one("SELECT sku, qty FROM orders WHERE id = ?", id);
        if (!order) return false;
        db.prepare("DELETE FROM orders WHERE id = ?").run(id);
        db.prepare("UPDATE items SET stock = stock + ? WHERE sku = ?").run(order.qty, order.sku);
        return true;
      });
    },
  };
}

module.exports = { sqliteStore };

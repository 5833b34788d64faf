// data.json, the way the original classroom project kept it: read the whole file, change it,
// write it back. The awaits are where another request gets in: two requests read the same
// file, and the second write overwrites the first (lost orders, one id handed out twice);
// a write truncates the file first, so a reader in between finds half a document.
const fs = require("node:fs/promises");
const path = require("node:path");
const { pause } = require("../pause/racelab-pause"); // where `racelab step` may hold a request

function jsonStore(dataDir, skus, stock) {
  const file = path.join(dataDir, "data.json");
  const load = async () => JSON.parse(await fs.readFile(file, "utf-8"));
  const save = (doc) => fs.writeFile(file, JSON.stringify(doc));
  return {
    file,
    async init(reset) {
      const exists = await fs.access(file).then(() => true, () => false);
      if (exists && !reset) return;
      const items = {};
      for (let n = 1; n <= skus; n++) items[`sku-${n}`] = stock;
      await save({ next_id: 1, items, orders: [] });
    },
    async items() {
      const doc = await load();
      return Object.entries(doc.items).map(([sku, left]) => ({ sku, stock: left }));
    },
    async create({ sku, qty, token }) {
      await pause("read");
      const doc = await load();
      const known = doc.orders.find((o) => o.token === token);
      if (known) return [200, known];
      if (!(sku in doc.items)) return [404, { error: "unknown_sku", message: `sku ${sku} is not sold here` }];
      if (doc.items[sku] < qty) return [409, { error: "out_of_stock", message: `${sku} has ${doc.items[sku]} left, not ${qty}` }];
      const order = { id: doc.next_id, sku, qty, token, created_at: new Date().toISOString() };
      doc.next_id += 1;
      doc.items[sku] -= qty;
      doc.orders.push(order);
      await pause("write");
      await save(doc);
      return [201, order];
    },
    async get(id) {
      return (await load()).orders.find((o) => o.id === id) || null;
    },
    async page(limit, afterId) {
      const orders = (await load()).orders.filter((o) => o.id > afterId);
      return orders.sort((a, b) => a.id - b.id).slice(0, limit);
    },
    async cancel(id) {
      await pause("read");
      const doc = await load();
      const at = doc.orders.findIndex((o) => o.id === id);
      if (at < 0) return false;
      const [order] = doc.orders.splice(at, 1);
      doc.items[order.sku] += order.qty;
      await pause("write");
      await save(doc);
      return true;
    },
  };
}

module.exports = { jsonStore };

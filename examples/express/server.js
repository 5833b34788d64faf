// node server.js --port 3000 --data ./data --store json|sqlite [--skus 10] [--stock 1000] [--reset]
// node server.js --port 3000 --store pg|pg-for-update --database-url postgresql://... [--skus 10] ...
const fs = require("node:fs");
const { parseArgs } = require("node:util");
const { makeApp } = require("./app");
const { jsonStore } = require("./json-store");
const { sqliteStore } = require("./sqlite-store");
const { pgStore, pgForUpdateStore } = require("./pg-store");

const STORES = { json: jsonStore, sqlite: sqliteStore };
const DATABASE_STORES = { pg: pgStore, "pg-for-update": pgForUpdateStore };

function options() {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      data: { type: "string", default: "./data" },
      store: { type: "string", default: "json" },
      skus: { type: "string", default: "10" },
      stock: { type: "string", default: "1000" },
      reset: { type: "boolean", default: false },
      "database-url": { type: "string" },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--port ${values.port} is not a port number`);
  if (!(values.store in STORES) && !(values.store in DATABASE_STORES)) {
    fail(`--store ${values.store} is not json, sqlite, pg or pg-for-update`);
  }
  if (values.store in DATABASE_STORES && !values["database-url"]) fail(`--store ${values.store} needs --database-url`);
  return { ...values, port, skus: Number(values.skus), stock: Number(values.stock) };
}

function fail(message) {
  console.error(`server.js: ${message}`);
  process.exit(2);
}

function openStore(opts) {
  if (opts.store in DATABASE_STORES) return DATABASE_STORES[opts.store](opts["database-url"], opts.skus, opts.stock);
  fs.mkdirSync(opts.data, { recursive: true });
  return STORES[opts.store](opts.data, opts.skus, opts.stock);
}

async function main() {
  const opts = options();
  const store = openStore(opts);
  // The store in --data is kept, so a restart after a crash finds its orders; --reset starts empty.
  await store.init(opts.reset);
  const name = opts.store === "json" ? "data.json" : opts.store;
  makeApp(store, name).listen(opts.port, "127.0.0.1", () => {
    console.log(`express (${name}) on http://127.0.0.1:${opts.port}, store ${store.file}`);
  });
}

main();

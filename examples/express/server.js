// node server.js --port 3000 --data ./data --store json|sqlite [--skus 10] [--stock 1000] [--reset]
const fs = require("node:fs");
const { parseArgs } = require("node:util");
const { makeApp } = require("./app");
const { jsonStore } = require("./json-store");
const { sqliteStore } = require("./sqlite-store");

const STORES = { json: jsonStore, sqlite: sqliteStore };

function options() {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      data: { type: "string", default: "./data" },
      store: { type: "string", default: "json" },
      skus: { type: "string", default: "10" },
      stock: { type: "string", default: "1000" },
      reset: { type: "boolean", default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--port ${values.port} is not a port number`);
  if (!(values.store in STORES)) fail(`--store ${values.store} is not json or sqlite`);
  return { ...values, port, skus: Number(values.skus), stock: Number(values.stock) };
}

function fail(message) {
  console.error(`server.js: ${message}`);
  process.exit(2);
}

async function main() {
  const opts = options();
  fs.mkdirSync(opts.data, { recursive: true });
  const store = STORES[opts.store](opts.data, opts.skus, opts.stock);
  // The store in --data is kept, so a restart after a crash finds its orders; --reset starts empty.
  await store.init(opts.reset);
  const name = opts.store === "json" ? "data.json" : "sqlite";
  makeApp(store, name).listen(opts.port, "127.0.0.1", () => {
    console.log(`express (${name}) on http://127.0.0.1:${opts.port}, store ${store.file}`);
  });
}

main();

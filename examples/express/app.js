// The contract's routes, written once (docs/contract.md); a store does the reading and writing.
const express = require("express");
const pauses = require("../pause/racelab-pause"); // racelab step's pause points; off unless stepped

const MAX_BODY = 64 * 1024;
const TOKEN = /^[A-Za-z0-9_.:-]{1,64}$/;

function error(res, status, code, message) {
  res.status(status).json({ error: code, message });
}

// Size from Content-Length first (413), then the media type (415), then the body (400).
function readOrder(req, res, next) {
  const length = Number(req.headers["content-length"] || 0);
  if (length > MAX_BODY) {
    res.set("Connection", "close");
    return error(res, 413, "too_large", `a body of ${length} bytes is over 64 KiB`);
  }
  const media = (req.headers["content-type"] || "").split(";")[0].trim().toLowerCase();
  if (media !== "application/json") {
    return error(res, 415, "unsupported_media_type", `send application/json, not ${media || "nothing"}`);
  }
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const problem = parseOrder(Buffer.concat(chunks), req);
    return problem ? error(res, 400, "invalid", problem) : next();
  });
}

function parseOrder(raw, req) {
  let body;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch {
    return "the body is not UTF-8 JSON";
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) return "the body must be an object";
  const keys = Object.keys(body).sort().join(",");
  if (keys !== "qty,sku,token") return "the body must be exactly {sku, qty, token}";
  const { sku, qty, token } = body;
  if (typeof sku !== "string" || sku.length < 1 || sku.length > 64) return "sku must be 1-64 characters";
  if (!Number.isInteger(qty) || qty < 1 || qty > 100) return `qty must be an integer 1..100, not ${JSON.stringify(qty)}`;
  if (typeof token !== "string" || !TOKEN.test(token)) return "token must be 1-64 characters of [A-Za-z0-9_.:-]";
  req.order = { sku, qty, token };
  return null;
}

function wholeNumber(text, fallback, low, high) {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= low && n <= high ? n : null;
}

// Any failure of the store: 500 with no internals in the message; the details go to the log.
function guarded(handler) {
  return async (req, res) => {
    try {
      await handler(req, res);
    } catch (e) {
      console.error(e);
      if (!res.headersSent) error(res, 500, "internal", "the server failed; the write may or may not have happened");
    }
  };
}

function makeApp(store, name) {
  const app = express();
  app.disable("x-powered-by");
  app.use(pauses.middleware);
  app.get("/health", (req, res) => res.json({ status: "ok", backend: "express", strategy: name }));
  app.get("/items", guarded(async (req, res) => res.json({ items: await store.items() })));
  // Again after readOrder: its body events run outside the request's context (AsyncLocalStorage).
  app.post("/orders", readOrder, pauses.middleware, guarded(async (req, res) => {
    const [status, body] = await store.create(req.order);
    res.status(status).json(body);
  }));
  app.get("/orders", guarded(async (req, res) => {
    const limit = wholeNumber(req.query.limit, 100, 1, 1000);
    const afterId = wholeNumber(req.query.after_id, 0, 0, Number.MAX_SAFE_INTEGER);
    if (limit === null || afterId === null) return error(res, 400, "invalid", "limit is 1..1000 and after_id a whole number >= 0");
    res.json({ orders: await store.page(limit, afterId) });
  }));
  app.get("/orders/:id", guarded(async (req, res) => {
    const order = /^\d+$/.test(req.params.id) ? await store.get(Number(req.params.id)) : null;
    return order ? res.json(order) : error(res, 404, "not_found", `no order ${req.params.id}`);
  }));
  app.delete("/orders/:id", guarded(async (req, res) => {
    const found = /^\d+$/.test(req.params.id) && (await store.cancel(Number(req.params.id)));
    return found ? res.status(204).end() : error(res, 404, "not_found", `no order ${req.params.id}`);
  }));
  for (const path of ["/health", "/items", "/orders", "/orders/:id"]) {
    app.all(path, (req, res) => error(res, 405, "method_not_allowed", `${req.method} is not allowed on ${req.path}`));
  }
  app.use((req, res) => error(res, 404, "not_found", `no route ${req.method} ${req.path}`));
  return app;
}

module.exports = { makeApp, error };

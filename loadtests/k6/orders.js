// racelab's order mix for k6: the same contract and mix as `racelab load`, tagged so that
// `k6 run --out json=K6.json` can be turned into a racelab history:
//
//   k6 run --no-usage-report -e BASE_URL=http://127.0.0.1:8000 -e VUS=20 -e DURATION=30s \
//          --out json=K6.json loadtests/k6/orders.js
//   racelab history from-k6 K6.json > history.jsonl
//   racelab check data --history history.jsonl
//
// Each request is tagged with op, token, sku, qty, vu (and order_id where it names one);
// each id a create gets back is sent as a racelab_order_id point tagged with its token.
//
// -e WORKLOAD=oncall runs the on-call workload instead (mix leave=90,shifts=10): each VU
// walks the shifts in order, a random doctor each time, so VUs race for each shift's last
// doctors; a leave is tagged with its token, shift and doctor. k6 keeps no response body,
// so reads record no answer and the checker says the stale-read check was not made.
import http from "k6/http";
import { check, sleep } from "k6";
import exec from "k6/execution";
import { Counter } from "k6/metrics";

const BASE = (__ENV.BASE_URL || "http://127.0.0.1:8000").replace(/\/$/, "");
const SEED = parseInt(__ENV.SEED || "1", 10);
const WORKLOAD = __ENV.WORKLOAD || "orders";
const MIXES = { orders: "create=70,cancel=10,get=10,list=10", oncall: "leave=90,shifts=10" };
const MIX = parseMix(__ENV.MIX || MIXES[WORKLOAD]);
const THINK_S = parseFloat(__ENV.THINK || "0");
const orderIds = new Counter("racelab_order_id");

export const options = {
  vus: parseInt(__ENV.VUS || "20", 10),
  duration: __ENV.DURATION || "30s",
  thresholds: {
    http_req_duration: ["p(99)<150"], // 99% of requests below 150 ms
    http_req_failed: ["rate<0.01"],
  },
};

function parseMix(text) {
  return text.split(",").map((part) => {
    const [op, weight] = part.split("=");
    return { op: op.trim(), weight: parseInt(weight, 10) };
  });
}

// mulberry32: a small seeded generator, one stream per VU, so a seed replays each VU.
function generator(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function setup() {
  const response = http.get(`${BASE}/items`, { tags: { op: "items" } });
  const items = {};
  for (const item of response.json("items")) items[item.sku] = item.stock;
  // The stock snapshot travels as a tag so the converter can write the run record.
  http.get(`${BASE}/health`, {
    tags: { op: "run", racelab_items: JSON.stringify(items), seed: String(SEED) },
  });
  const rota = WORKLOAD === "oncall" ? http.get(`${BASE}/shifts`).json() : [];
  return { skus: Object.keys(items), rota };
}

let state = null;

function vuState() {
  if (state === null) {
    const vu = exec.vu.idInTest;
    state = { vu, random: generator(SEED * 1000003 + vu), n: 0, orders: [], leaves: 0 };
  }
  return state;
}

function pickOp(random) {
  const total = MIX.reduce((sum, m) => sum + m.weight, 0);
  let r = random() * total;
  for (const m of MIX) {
    if ((r -= m.weight) < 0) return m.op;
  }
  return MIX[MIX.length - 1].op;
}

function tagsFor(s, op, order) {
  const tags = { op, vu: String(s.vu) };
  if (order) {
    Object.assign(tags, { token: order.token, sku: order.sku, qty: String(order.qty) });
    if (order.id !== undefined) tags.order_id = String(order.id);
  }
  return tags;
}

export default function (data) {
  const s = vuState();
  let op = pickOp(s.random);
  const sku = data.skus[Math.floor(s.random() * data.skus.length)];
  const qty = 1 + Math.floor(s.random() * 3);
  const pick = s.random();
  s.n += 1;
  const mine = s.orders.length ? s.orders[Math.floor(pick * s.orders.length)] : null;
  if (!mine && op === "cancel") op = "create";
  if (!mine && op === "get") op = "list";
  if (op === "leave") {
    leave(data.rota, s);
  } else if (op === "shifts") {
    http.get(`${BASE}/shifts`, { tags: tagsFor(s, op, null) });
  } else if (op === "create") {
    const order = { token: `k${SEED}-v${s.vu}-${s.n}`, sku, qty };
    const response = http.post(`${BASE}/orders`, JSON.stringify(order), {
      headers: { "Content-Type": "application/json" },
      tags: tagsFor(s, op, order),
    });
    check(response, { "order stored": (r) => r.status === 201 || r.status === 200 });
    if (response.status === 201 || response.status === 200) {
      const id = response.json("id");
      orderIds.add(id, { token: order.token });
      s.orders.push({ ...order, id });
    }
  } else if (op === "cancel") {
    s.orders.splice(s.orders.indexOf(mine), 1);
    const response = http.del(`${BASE}/orders/${mine.id}`, null, {
      tags: { ...tagsFor(s, op, mine), name: `${BASE}/orders/{id}` },
    });
    check(response, { "order cancelled": (r) => r.status === 204 });
  } else if (op === "get") {
    http.get(`${BASE}/orders/${mine.id}`, {
      tags: { ...tagsFor(s, op, mine), name: `${BASE}/orders/{id}` },
    });
  } else if (op === "list") {
    const after = mine ? mine.id : 0;
    http.get(`${BASE}/orders?limit=20&after_id=${after}`, {
      tags: { ...tagsFor(s, op, null), name: `${BASE}/orders?limit=20` },
    });
  } else {
    http.get(`${BASE}/items`, { tags: tagsFor(s, op, null) });
  }
  if (THINK_S > 0) sleep(THINK_S * s.random());
}

// One leave: the next shift of this VU's walk, a random doctor of it.
function leave(rota, s) {
  const entry = rota[s.leaves % rota.length];
  s.leaves += 1;
  const doctor = entry.on_call[Math.floor(s.random() * entry.on_call.length)];
  const token = `k${SEED}-v${s.vu}-${s.n}`;
  const response = http.post(
    `${BASE}/shifts/${encodeURIComponent(entry.shift)}/leave`,
    JSON.stringify({ doctor, token }),
    {
      headers: { "Content-Type": "application/json" },
      tags: { op: "leave", vu: String(s.vu), token, shift: entry.shift, doctor,
              name: `${BASE}/shifts/{shift}/leave` },
    },
  );
  check(response, { "leave answered": (r) => r.status === 200 || r.status === 409 });
}

// The Step page: a stepped server per spec and target; each click releases one session's step.
"use strict";
let session = null;
function $(sel) { return document.querySelector(sel); }
function el(tag, text, cls) { const n = document.createElement(tag); if (text != null) n.textContent = text; if (cls) n.className = cls; return n; }

async function call(method, url, body) {
  const answer = await fetch(url, { method, headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await answer.json();
  if (answer.status >= 400) { $("#step-status").textContent = data.message; return null; }
  return data;
}

function draw(state) {
  session = state;
  const next = state.next ? state.next.split(".")[0] : null;
  const lanes = $("#lanes"); lanes.textContent = "";
  for (const s of state.sessions) {
    const lane = el("div", null, `lane ${s.status}` + (s.name === next ? " next" : ""));
    lane.dataset.session = s.name;
    const button = el("button", `${s.name}`); button.id = `release-${s.name}`;
    button.disabled = s.status === "done" || state.verdict !== null;
    button.addEventListener("click", () => release(s.name));
    lane.appendChild(button);
    lane.appendChild(el("span", ` ${s.status}${s.at ? " at " + s.at : ""}`, "where"));
    const list = el("ol");
    s.requests.forEach((r, i) => list.appendChild(el("li", r + (i < s.answered ? " ✓" : ""))));
    lane.appendChild(list); lanes.appendChild(lane);
  }
  const store = $("#store"); store.textContent = "";
  store.appendChild(el("p", "stock: " + Object.entries(state.store.items).map(([k, v]) => `${k} ${v}`).join(", ")));
  store.appendChild(el("p", "orders: " + (state.store.orders.map(o => `#${o.id} ${o.token} ${o.qty} x ${o.sku}`).join("; ") || "none")));
  if (state.store.error) store.appendChild(el("p", "store: " + state.store.error, "bad"));
  if (state.store.text !== null) store.appendChild(el("pre", state.store.text, "store"));
  const answers = $("#answers"); answers.textContent = "";
  state.answers.forEach(a => answers.appendChild(el("li", `${a.session}: ${a.text}`)));
  const log = $("#log"); log.textContent = "";
  state.log.forEach(l => log.appendChild(el("li", `${l.step} ${l.outcome}`)));
  const verdict = state.verdict === null ? "not yet" :
    state.verdict + (Object.keys(state.anomalies).length ? ": " + Object.entries(state.anomalies).map(([k, v]) => `${k} ${v}`).join(", ") : "");
  $("#verdict").textContent = verdict; $("#verdict").className = state.verdict || "";
  const matrix = $("#matrix"); matrix.textContent = "";
  const head = el("tr"); head.appendChild(el("th", "permutation")); head.appendChild(el("th", state.target)); matrix.appendChild(head);
  state.permutations.forEach((p, i) => {
    const row = el("tr"); row.appendChild(el("td", `${i + 1}: ${p.join(" ")}`));
    row.appendChild(el("td", state.results[String(i + 1)] || "")); matrix.appendChild(row);
  });
  drawSource(state);
  $("#step-status").textContent = state.next ? `permutation ${state.permutation}: next ${state.next}` :
    state.verdict ? "done: reset for the next permutation" : "every pause point is a click";
}

// The strategy's methods on the write path; the line each held session waits at is lit.
function drawSource(state) {
  const box = $("#source"); box.textContent = "";
  if (!state.source) { box.appendChild(el("p", "an external target: its source is not ours to show")); return; }
  const lit = {};
  for (const [name, at] of Object.entries(state.pause_lines)) (lit[`${at.file}:${at.line}`] ||= []).push(name);
  for (const block of state.source) {
    box.appendChild(el("h4", `${block.name} (${block.file})`));
    const pre = el("pre", null, "source");
    block.text.replace(/\n$/, "").split("\n").forEach((text, i) => {
      const n = block.first + i, who = lit[`${block.file}:${n}`];
      const mark = who ? `   <- ${who.join(", ")} waits here` : "";
      const line = el("span", `${String(n).padStart(4)}  ${text}${mark}\n`, who ? "line here" : "line");
      line.dataset.line = n;
      if (who) line.dataset.sessions = who.join(" ");
      pre.appendChild(line);
    });
    box.appendChild(pre);
  }
}

async function playRest() {
  $("#step-status").textContent = "playing the remaining permutations";
  const state = await call("POST", `/api/step/${session.id}/play-rest`);
  if (state) draw(state);
}

function fillPermutations(state) {
  const select = $("#permutation"); select.textContent = ""; select.disabled = false; $("#reset").disabled = false;
  $("#play-rest").disabled = false;
  select.appendChild(new Option("0: every point a click", "0"));
  state.permutations.forEach((p, i) => select.appendChild(new Option(`${i + 1}: ${p.join(" ")}`, String(i + 1))));
  select.value = String(state.permutation);
}

async function start(e) {
  e.preventDefault();
  const f = new FormData(e.target);
  if (session) call("DELETE", `/api/step/${session.id}`);
  $("#step-status").textContent = "starting the server";
  const state = await call("POST", "/api/step", { spec: f.get("spec"), target: f.get("target") });
  if (state) { fillPermutations(state); draw(state); }
}

async function release(name) {
  const state = await call("POST", `/api/step/${session.id}/release`, { session: name });
  if (state) draw(state);
}

async function reset() {
  const state = await call("POST", `/api/step/${session.id}/reset`, { permutation: parseInt($("#permutation").value, 10) });
  if (state) draw(state);
}

$("#step-form").addEventListener("submit", start);
$("#reset").addEventListener("click", reset);
$("#play-rest").addEventListener("click", playRest);
$("#permutation").addEventListener("change", reset);
document.addEventListener("keydown", e => {
  if (!session || e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
  const s = session.sessions.find(x => x.name.toLowerCase() === e.key.toLowerCase());
  if (s) release(s.name);
});

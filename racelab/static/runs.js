// The Runs page: start a run through the API, follow its events, draw them live.
"use strict";
const CLASSES = ["lost", "id_collision", "duplicated", "corrupt_store", "corrupt_record",
  "unexpected", "resurrected", "stock_mismatch", "oversold"];
const CHARTS = [["requests/s", ["rps"]], ["response ms", ["p50_ms", "p95_ms", "p99_ms"]],
  ["users", ["users"]], ["errors/s", ["errors_per_s"]]];
const COLORS = ["#36c", "#c80", "#b00"];
const cards = {};
let current = null, source = null;

function $(sel, root) { return (root || document).querySelector(sel); }

function card(target) {
  if (cards[target]) return cards[target];
  const node = $("#target-card").content.firstElementChild.cloneNode(true);
  node.dataset.target = target;
  $(".name", node).textContent = target;
  for (const name of CLASSES) {
    const th = document.createElement("th"); th.textContent = name.replace("_", " ");
    $(".head", node).appendChild(th);
    const td = document.createElement("td"); td.className = "count"; td.dataset.anomaly = name;
    td.textContent = "0"; $(".counts", node).appendChild(td);
  }
  const data = { t: [], series: {} }, plots = [];
  for (const [title, keys] of CHARTS) {
    keys.forEach(k => data.series[k] = []);
    const opts = { title, width: 330, height: 160, legend: { show: keys.length > 1 },
      scales: { x: { time: false } }, axes: [{ label: "s" }, {}],
      series: [{}].concat(keys.map((k, i) => ({ label: k, stroke: COLORS[i] }))) };
    const div = document.createElement("div"); $(".charts", node).appendChild(div);
    plots.push([new uPlot(opts, [[]].concat(keys.map(() => [])), div), keys]);
  }
  $("#targets").appendChild(node);
  return cards[target] = { node, data, plots, drawn: new Set() };
}

function showCounts(c, event) {
  const counts = event.anomalies || {};
  for (const td of c.node.querySelectorAll(".count")) {
    const n = counts[td.dataset.anomaly] || 0;
    td.textContent = n; td.classList.toggle("bad", n > 0);
  }
  for (const k of ["acknowledged", "stored"]) if (k in event) $("." + k, c.node).textContent = event[k];
  const list = $(".examples", c.node); list.textContent = "";
  for (const [name, text] of Object.entries(event.examples || {})) {
    const li = document.createElement("li");
    li.textContent = `${name}: ${Array.isArray(text) ? text[0] : text}`;
    list.appendChild(li);
  }
}

// The first example of each class, drawn as its swimlane once, as soon as a check finds it.
// The SVG is the report's own, built and escaped on the server.
function showSwimlanes(c, event) {
  for (const [name, svg] of Object.entries(event.swimlanes || {})) {
    if (c.drawn.has(name) || !svg) continue;
    c.drawn.add(name);
    const div = document.createElement("div"); div.className = "swimlane"; div.dataset.swimlane = name;
    const title = document.createElement("h4"); title.textContent = `first ${name.replace("_", " ")}`;
    div.appendChild(title); div.insertAdjacentHTML("beforeend", svg);
    $(".swimlanes", c.node).appendChild(div);
  }
}

function onProgress(event) {
  const c = card(event.target);
  if (c.node.dataset.final) return;
  c.data.t.push(event.elapsed_s);
  for (const key in c.data.series) c.data.series[key].push(event[key]);
  for (const [plot, keys] of c.plots) plot.setData([c.data.t].concat(keys.map(k => c.data.series[k])));
  $(".requests", c.node).textContent = event.requests;
  $(".rps", c.node).textContent = event.rps;
  $(".p99", c.node).textContent = event.p99_ms;
  $(".acknowledged", c.node).textContent = event.acknowledged;
  $(".stored", c.node).textContent = event.stored;
  $(".verdict", c.node).textContent = "running (provisional)";
  $(".verdict", c.node).className = "verdict provisional";
}

function onEvent(event) {
  if (event.type === "starting") { card(event.target); status(`running ${event.target} (${event.index + 1}/${event.total})`); }
  else if (event.type === "progress") onProgress(event);
  else if (event.type === "check") { const c = card(event.target); if (!c.node.dataset.final) showCounts(c, event); showSwimlanes(c, event); }
  else if (event.type === "finished") {
    const c = card(event.target);
    c.node.dataset.final = "1"; showCounts(c, event); showSwimlanes(c, event);
    $(".verdict", c.node).textContent = event.verdict; $(".verdict", c.node).className = "verdict " + event.verdict;
  } else if (event.type === "could_not_run") { card(event.target); status(`${event.target} could not be run: ${event.reason}`); }
  else if (event.type === "error") status(event.message);
  else if (event.type === "done") {
    source.close(); source = null; $("#stop").disabled = true; $("#start").disabled = false;
    status(`run ${event.id} ${event.status}: ` + event.targets.map(t => `${t.target} ${t.verdict || "not run"}`).join(", "));
    const a = document.createElement("a"); a.href = event.report; a.textContent = "open the report";
    a.id = "report-link"; $("#report").textContent = ""; $("#report").appendChild(a);
  }
}

function status(text) { $("#status").textContent = text; }

function settings(form) {
  const f = new FormData(form), body = {};
  body.targets = f.get("targets").split(",").map(s => s.trim()).filter(Boolean);
  for (const k of ["vus", "seed"]) body[k] = parseInt(f.get(k), 10);
  body.duration = parseFloat(f.get("duration"));
  body.workload = f.get("workload");
  if (f.get("mix")) body.mix = f.get("mix");
  if (f.get("faults")) body.faults = f.get("faults");
  return body;
}

async function start(e) {
  e.preventDefault();
  const answer = await fetch("/api/runs", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(settings(e.target)) });
  const body = await answer.json();
  if (answer.status !== 201) { status(body.message); return; }
  for (const k in cards) { cards[k].node.remove(); delete cards[k]; }
  $("#report").textContent = "";
  current = body.id; $("#stop").disabled = false; $("#start").disabled = true;
  status(`run ${current} starting`);
  source = new EventSource(body.events);
  source.onmessage = m => onEvent(JSON.parse(m.data));
}

async function stop() {
  if (!current) return;
  status("stopping: the load ends, the servers stop, what was done is checked");
  await fetch(`/api/runs/${current}/stop`, { method: "POST" });
}

$("#run-form").addEventListener("submit", start);
$("#stop").addEventListener("click", stop);
$("#workload").addEventListener("change", e => {
  const chosen = e.target.selectedOptions[0], form = $("#run-form");
  form.vus.value = chosen.dataset.vus;  // each workload's own default, as compare's
  form.mix.placeholder = chosen.dataset.mix;
});
$("#ladder").addEventListener("click", e => { $("#run-form").targets.value = e.target.dataset.ladder; });

// Pause points for `racelab step` in any Node server: the pause protocol, version 1
// (docs/contract.md). No dependency, no racelab; a no-op unless RACELAB_STEP_SOCKET is set.
//
//   const pauses = require("./racelab-pause");
//   app.use(pauses.middleware);     // Express: remembers each request's X-Racelab-Session
//   await pauses.pause("read");      // anywhere in that request's work, or:
//   await pauses.pause(req, "read"); // with the request at hand, no middleware needed
const net = require("node:net");
const { AsyncLocalStorage } = require("node:async_hooks");

const HEADER = "x-racelab-session";
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const LIMIT_MS = 120_000; // however long a schedule holds a request, a lost scheduler lets go
const sessions = new AsyncLocalStorage();

// Put it after any middleware that reads the body with req.on(...): those events run
// outside the request's async context, and the session would be lost on the way.
function middleware(req, res, next) {
  res.setHeader("X-Racelab-Worker", String(process.pid));
  sessions.run(req.headers[HEADER], next);
}

function pause(reqOrPoint, point) {
  const session = point === undefined ? sessions.getStore() : reqOrPoint.headers[HEADER];
  return ask(session, point === undefined ? reqOrPoint : point);
}

// One connection, one line; resolves on "go", on "no REASON" (logged), or on any failure.
function ask(session, point) {
  const path = process.env.RACELAB_STEP_SOCKET;
  const secret = process.env.RACELAB_STEP_SECRET;
  if (!path || !secret || !session || !NAME.test(session)) return Promise.resolve();
  return new Promise((resolve) => {
    let answer = "";
    const conn = net.createConnection(path, () => {
      conn.write(`RACELAB-PAUSE/1 ${secret} ${session} ${point} ${process.pid}\n`);
    });
    const timer = setTimeout(() => conn.destroy(), LIMIT_MS);
    conn.setEncoding("ascii");
    conn.on("data", (chunk) => {
      answer += chunk;
      if (answer.includes("\n") || answer.length > 512) conn.destroy();
    });
    conn.on("error", () => {}); // no scheduler: carry on unscheduled
    conn.on("close", () => {
      clearTimeout(timer);
      const line = answer.split("\n")[0];
      if (line.startsWith("no ")) console.error(`racelab: ${point} of ${session} refused: ${line.slice(3)}`);
      resolve();
    });
  });
}

module.exports = { middleware, pause };

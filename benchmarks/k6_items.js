// The generator benchmark's k6 side: GET /items in a closed loop, like the other tools, or at
// a fixed arrival rate (RATE a second) with up to VUS connections.
import http from "k6/http";

const vus = parseInt(__ENV.VUS || "50", 10);
const duration = __ENV.DURATION || "10s";
const rate = parseInt(__ENV.RATE || "0", 10);

export const options = rate
  ? {
      scenarios: {
        items: {
          executor: "constant-arrival-rate",
          rate,
          timeUnit: "1s",
          duration,
          preAllocatedVUs: vus,
          maxVUs: vus,
        },
      },
    }
  : { vus, duration };

export default function () {
  http.get(`${__ENV.BASE_URL}/items`);
}

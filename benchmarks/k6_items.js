// The generator benchmark's k6 side: GET /items in a closed loop, like the other tools.
import http from "k6/http";

export const options = { vus: parseInt(__ENV.VUS || "50", 10), duration: __ENV.DURATION || "10s" };

export default function () {
  http.get(`${__ENV.BASE_URL}/items`);
}

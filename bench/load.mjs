// Bounded HTTP load for the reload benchmark, in its own process so that the deploy running
// in the parent (which blocks on ssh) cannot stall it. `node bench/load.mjs URL SECONDS CONC`
// runs CONC request loops against URL for SECONDS and prints one JSON document:
// {"start": epoch ms, "requests": [[t_ms, latency_ms, ok], ...]}. A request is failed when it
// gets a connection error, a reset, a timeout or a 5xx. After a failure a loop waits 10 ms, so
// a refused port is not hammered (and counted) a hundred thousand times.
import http from "node:http";

const [url, seconds, concurrency] = [
  process.argv[2],
  Number(process.argv[3]),
  Number(process.argv[4]),
];
const start = Date.now();
// A SIGTERM ends the load early (a test stops it when its change is done); the bound holds.
let end = start + seconds * 1000;
process.on("SIGTERM", () => {
  end = Math.min(end, Date.now());
});
const requests = [];

function once() {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve([t0 - start, Date.now() - t0, res.statusCode < 500 ? 1 : 0]));
      res.on("error", () => resolve([t0 - start, Date.now() - t0, 0]));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve([t0 - start, Date.now() - t0, 0]));
  });
}

async function loop() {
  while (Date.now() < end) {
    const r = await once();
    requests.push(r);
    if (!r[2]) await new Promise((res) => setTimeout(res, 10));
  }
}

await Promise.all(Array.from({ length: concurrency }, loop));
process.stdout.write(JSON.stringify({ start, requests }));

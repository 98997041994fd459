// `npm run bench`: what a change costs the requests in flight, on a real host.
// Real OpenSSH, Django (Debian's) and Gunicorn on loopback through the component's own launcher
// and lifecycle (the test/integration harness: through the real Pulumi engine wherever the
// command provider is installed, else the replay — its first line says which; Upstart
// played by test/host/initctl), once with Debian's Gunicorn 20.1 and once with a current one
// from PyPI (scripts/test-deps.sh downloads the wheel). Per Gunicorn, under the same bounded
// load (bench/load.mjs, a separate process):
//   steady  - no change at all: the machine's own noise, the yardstick for the others;
//   hup     - a Gunicorn settings change (workers 4 <-> 5) with reloadStrategy hup: Gunicorn's
//             plain HUP, the old workers retire at once;
//   reload  - the same change with the default, warm reload: new workers ready, then retire;
//   release - an app code change through the release path: upload, switch, warm reload;
//   restart - the recipe's way: `initctl stop` + `initctl start`;
//   rolling - a fleet of two services behind a local load balancer (standing in for the ALB,
//             test/integration/fleetSite.ts), a restart-type change (another virtualenv)
//             rolled out by GunicornFleet: drain, restart, health gate, register, next host;
//   rolling-no-drain - the same rollout with balancer commands that do nothing.
// Prints a line per case and a summary; writes bench/results.json and bench/reload.svg.
// A benchmark, not a test: numbers depend on the machine; compare the cases within one run.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../test/helpers/freePort";
import { runLoad } from "./runLoad";
import { makeApp } from "../test/integration/app";
import { siteProgram } from "../test/integration/site";
import { FLEET_SETUP, fleetProgram, startBalancer } from "../test/integration/fleetSite";
import { startTestHost, type TestHost } from "../test/integration/testHost";
import { CURRENT_GUNICORN_VENV, currentGunicornSetup } from "../test/helpers/currentGunicorn";
import { engineChoice, lifecycleEngine } from "../test/integration/engine";

// Long enough for a two-host rolling restart (about 12 s) to finish inside the load.
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const CHANGE_AT_MS = 3000;
const BUCKET_MS = 100;

interface Case {
  case: "steady" | "hup" | "reload" | "release" | "restart" | "rolling" | "rolling-no-drain";
  gunicorn: string;
  requests: number;
  failed: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** The longest time in which no request completed successfully (a stall, even without errors). */
  longest_gap_ms: number;
  change_s: number;
  changeStartMs: number;
  changeEndMs: number;
  buckets: { ok: number; failed: number }[];
}

/** How many times `a` is `b`, as text: the bench compares cases within one run only. */
function ratio(a: number, b: number): string {
  return `${(a / Math.max(1, b)).toFixed(1)} x`;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(
  name: Case["case"],
  gunicorn: string,
  url: string,
  change: () => Promise<void>,
): Promise<Case> {
  const load = runLoad(url, SECONDS, CONCURRENCY);
  const loadStarted = Date.now();
  await new Promise((r) => setTimeout(r, CHANGE_AT_MS));
  const t0 = Date.now();
  await change();
  const t1 = Date.now();
  const { start, requests } = await load;
  const offset = start - loadStarted;
  const latencies = requests
    .filter((r) => r[2])
    .map((r) => r[1])
    .sort((a, b) => a - b);
  const buckets = Array.from({ length: Math.ceil((SECONDS * 1000) / BUCKET_MS) }, () => ({
    ok: 0,
    failed: 0,
  }));
  for (const [t, , ok] of requests) {
    const b = buckets[Math.min(buckets.length - 1, Math.floor(t / BUCKET_MS))]!;
    if (ok) b.ok++;
    else b.failed++;
  }
  // Completions of served requests, in time order, from the first to the last of the run.
  const done = requests
    .filter((r) => r[2])
    .map(([t, latency]) => t + latency)
    .sort((a, b) => a - b);
  let longestGap = 0;
  for (let i = 1; i < done.length; i++) longestGap = Math.max(longestGap, done[i]! - done[i - 1]!);
  return {
    case: name,
    gunicorn,
    requests: requests.length,
    failed: requests.filter((r) => !r[2]).length,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    max_ms: latencies[latencies.length - 1] ?? 0,
    longest_gap_ms: longestGap,
    change_s: Math.round((t1 - t0) / 10) / 100,
    changeStartMs: t0 - loadStarted - offset,
    changeEndMs: t1 - loadStarted - offset,
    buckets,
  };
}

function svg(cases: Case[]): string {
  const width = 900;
  const panel = 170;
  const left = 60;
  const plotW = width - left - 20;
  const max = Math.max(1, ...cases.flatMap((c) => c.buckets.map((b) => b.ok + b.failed)));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${cases.length * panel + 40}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">Requests per ${BUCKET_MS} ms during a change (green: served, red: failed; shaded: the change)</text>`,
  ];
  cases.forEach((c, i) => {
    const top = 40 + i * panel;
    const h = panel - 40;
    const x = (ms: number) => left + (ms / (SECONDS * 1000)) * plotW;
    const bw = plotW / c.buckets.length;
    parts.push(
      `<text x="${left}" y="${top + 12}" font-weight="bold">${c.case} (Gunicorn ${c.gunicorn}): ${c.failed} failed of ${c.requests} (p50 ${c.p50_ms} ms, p99 ${c.p99_ms} ms, max ${c.max_ms} ms, longest gap ${c.longest_gap_ms} ms, change ${c.change_s} s)</text>`,
    );
    parts.push(
      `<rect x="${x(c.changeStartMs)}" y="${top + 18}" width="${Math.max(1, x(c.changeEndMs) - x(c.changeStartMs))}" height="${h}" fill="#ddd"/>`,
    );
    parts.push(
      `<line x1="${x(c.changeStartMs)}" x2="${x(c.changeStartMs)}" y1="${top + 18}" y2="${top + 18 + h}" stroke="#555" stroke-dasharray="4 3"/>`,
    );
    c.buckets.forEach((b, j) => {
      const okH = (b.ok / max) * h;
      const failH = (b.failed / max) * h;
      const bx = left + j * bw;
      if (okH > 0)
        parts.push(
          `<rect x="${bx.toFixed(1)}" y="${(top + 18 + h - okH).toFixed(1)}" width="${(bw - 0.5).toFixed(1)}" height="${okH.toFixed(1)}" fill="#2a9d3a"/>`,
        );
      if (failH > 0)
        parts.push(
          `<rect x="${bx.toFixed(1)}" y="${(top + 18 + h - okH - failH).toFixed(1)}" width="${(bw - 0.5).toFixed(1)}" height="${failH.toFixed(1)}" fill="#d62828"/>`,
        );
    });
    parts.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${top + 18 + h}" y2="${top + 18 + h}" stroke="black"/>`,
    );
    parts.push(
      `<text x="${left - 8}" y="${top + 24}" text-anchor="end">${max}</text><text x="${left - 8}" y="${top + 18 + h}" text-anchor="end">0</text>`,
    );
    for (let s = 0; s <= SECONDS; s += 2)
      parts.push(`<text x="${x(s * 1000)}" y="${top + h + 32}" text-anchor="middle">${s}s</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

/** The Gunicorns the bench compares: a virtualenv each, and a second one for the rollout. */
const GUNICORNS = [
  { venv: "/home/app/venv", venv2: "/home/app/venv2" },
  { venv: CURRENT_GUNICORN_VENV, venv2: `${CURRENT_GUNICORN_VENV}2` },
];

/** Every case, under the same load, with the Gunicorn of `venv` (the service, then the fleet). */
async function casesWith(h: TestHost, venv: string, venv2: string): Promise<Case[]> {
  const port = await freePort();
  const app = makeApp();
  let version = 1;
  app.setVersion(`v${version}`);
  const replay = lifecycleEngine(h);
  const program = (workers: number, reloadStrategy: "warm" | "hup" = "warm") =>
    siteProgram(h, port, {
      appSource: app.dir,
      workers,
      logLevel: "warning",
      virtualenv: venv,
      reloadStrategy,
    });
  let workers = 4;
  const cases: Case[] = [];
  await replay.up(program(workers));
  try {
    const url = `http://127.0.0.1:${port}/`;
    const gunicorn = h
      .rootOk(`${venv}/bin/python -c 'import gunicorn; print(gunicorn.__version__)'`)
      .trim();
    const run = (name: Case["case"], change: () => Promise<void>) =>
      measure(name, gunicorn, url, change);
    // As long as a reload takes, doing nothing.
    cases.push(await run("steady", () => new Promise((r) => setTimeout(r, 3000))));
    cases.push(
      await run("hup", async () => {
        workers = workers === 4 ? 5 : 4;
        await replay.up(program(workers, "hup"));
      }),
    );
    cases.push(
      await run("reload", async () => {
        workers = workers === 4 ? 5 : 4;
        await replay.up(program(workers));
      }),
    );
    cases.push(
      await run("release", async () => {
        version++;
        app.setVersion(`v${version}`);
        await replay.up(program(workers));
      }),
    );
    cases.push(
      await run("restart", async () => {
        h.rootOk("initctl stop site >/dev/null && initctl start site >/dev/null");
      }),
    );
  } finally {
    await replay.destroy();
  }
  const lb = await startBalancer(2);
  const fleet = lifecycleEngine(h);
  try {
    const gunicorn = cases[0]!.gunicorn;
    const noDrain = { drain: "true", register: "true", deregister: "true" };
    await fleet.up(fleetProgram(h, lb, app.dir, {}, venv));
    cases.push(
      await measure("rolling", gunicorn, lb.url, async () => {
        await fleet.up(fleetProgram(h, lb, app.dir, {}, venv2));
      }),
    );
    cases.push(
      await measure("rolling-no-drain", gunicorn, lb.url, async () => {
        await fleet.up(fleetProgram(h, lb, app.dir, { balancer: noDrain }, venv));
      }),
    );
  } finally {
    await fleet.destroy();
    lb.stop();
  }
  return cases;
}

async function main(): Promise<void> {
  let host: TestHost | undefined;
  try {
    host = await startTestHost(
      FLEET_SETUP +
        currentGunicornSetup(GUNICORNS[1]!.venv) +
        currentGunicornSetup(GUNICORNS[1]!.venv2),
    );
    const cases: Case[] = [];
    for (const { venv, venv2 } of GUNICORNS) cases.push(...(await casesWith(host, venv, venv2)));
    const pad = (v: string | number, n: number) => String(v).padStart(n);
    console.log(
      `${"case".padEnd(16)} ${pad("gunicorn", 9)} ${pad("requests", 9)} ${pad("failed", 7)} ${pad("p50_ms", 7)} ${pad("p99_ms", 7)} ${pad("max_ms", 7)} ${pad("longest_gap_ms", 15)} ${pad("change_s", 9)}`,
    );
    for (const c of cases) {
      console.log(
        `${c.case.padEnd(16)} ${pad(c.gunicorn, 9)} ${pad(c.requests, 9)} ${pad(c.failed, 7)} ${pad(c.p50_ms, 7)} ${pad(c.p99_ms, 7)} ${pad(c.max_ms, 7)} ${pad(c.longest_gap_ms, 15)} ${pad(c.change_s, 9)}`,
      );
    }
    for (const gunicorn of [...new Set(cases.map((c) => c.gunicorn))]) {
      const by = (n: Case["case"]) => cases.find((c) => c.case === n && c.gunicorn === gunicorn)!;
      const steady = by("steady");
      const against = (n: Case["case"]) =>
        `${n} lost ${by(n).failed} of ${by(n).requests}, longest gap ${ratio(by(n).longest_gap_ms, steady.longest_gap_ms)} and max ${ratio(by(n).max_ms, steady.max_ms)} steady's`;
      console.log(
        `summary, Gunicorn ${gunicorn} (${SECONDS} s at concurrency ${CONCURRENCY}, change at ${CHANGE_AT_MS / 1000} s): ` +
          `${against("hup")}; ${against("reload")}; ${against("release")}; ` +
          `the recipe's restart lost ${by("restart").failed} of ${by("restart").requests}; ` +
          `a fleet's rolling restart lost ${by("rolling").failed} of ${by("rolling").requests}, without the drain ${by("rolling-no-drain").failed} of ${by("rolling-no-drain").requests}`,
      );
    }
    writeFileSync(
      join(__dirname, "results.json"),
      JSON.stringify(
        {
          engine: engineChoice().kind,
          // The table's columns only (not the plot's).
          cases: cases.map(({ changeStartMs: _s, changeEndMs: _e, buckets: _b, ...row }) => row),
        },
        null,
        2,
      ) + "\n",
    );
    // The plot: plain HUP beside the warm reload and release, for each Gunicorn.
    writeFileSync(
      join(__dirname, "reload.svg"),
      svg(cases.filter((c) => ["steady", "hup", "reload", "release"].includes(c.case))),
    );
  } finally {
    host?.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);

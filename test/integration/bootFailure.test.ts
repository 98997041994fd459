// An app that does not import, under the rendered Gunicorn config, with real Gunicorns: Debian's
// 20.1 (/usr/bin/python3's) and PyPI's current one (the wheel scripts/test-deps.sh downloads).
// Several workers fail to boot together, and the master must exit with Gunicorn's own "Worker
// failed to boot." (status 3) every time: not wait out graceful_timeout for a worker it never
// reaped (20.1, now and then), not die of a second halt inside its stop (24 and later, always).
// The hook that does it is components/render/bootFailure.ts. Runs on this machine, bound to
// 127.0.0.1; every run is bounded (SIGKILL after 60 s, far below the 600 s graceful_timeout).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { normalizeSpec } from "../../components/render/spec";
import { renderGunicornConfig } from "../../components/render/gunicornConfig";
import { writeHooksBeside } from "../helpers/hooks";
import { unpackCurrentGunicorn } from "../helpers/currentGunicorn";
import { freePort } from "../helpers/freePort";

const RUNS = 25;
const WORKERS = 6;
/** Far beyond any run that exits by itself; a run still going then is the bug. */
const BOUND_MS = 60_000;

interface Run {
  status: number | null;
  log: string;
}

let dir = "";
let currentLib = "";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "boot-failure-"));
  currentLib = unpackCurrentGunicorn(join(dir, "gunicorn-current"));
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** The rendered config for a service whose app module does not exist (or a bare one). */
function config(name: string, port: number, rendered: boolean): string {
  const logFile = join(dir, `${name}.log`);
  const path = join(dir, `${name}.conf.py`);
  const spec = normalizeSpec({
    workers: WORKERS,
    gracefulTimeout: 600,
    bind: `127.0.0.1:${port}`,
    projectDir: dir,
    logFile,
  });
  // The rendered config runs the hooks' module beside it, as on a host.
  if (rendered) writeHooksBeside(path, spec);
  writeFileSync(
    path,
    rendered
      ? renderGunicornConfig(spec, {})
      : [
          `workers = ${WORKERS}`,
          "graceful_timeout = 600",
          `bind = ["127.0.0.1:${port}"]`,
          `errorlog = ${JSON.stringify(logFile)}`,
          "capture_output = True",
          "",
        ].join("\n"),
  );
  return path;
}

/** Starts Gunicorn with `conf` on an app that does not import; waits for its exit (bounded). */
async function run(conf: string, current: boolean): Promise<Run> {
  const logFile = conf.replace(/\.conf\.py$/, ".log");
  writeFileSync(logFile, "");
  const child = spawn(
    "/usr/bin/python3",
    ["-m", "gunicorn", "-c", conf, "nosuch_app.wsgi:application"],
    {
      cwd: dir,
      env: { ...process.env, PYTHONPATH: current ? currentLib : "" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), BOUND_MS);
  const status = await new Promise<number | null>((resolve) =>
    child.on("exit", (code) => resolve(code)),
  );
  clearTimeout(timer);
  return { status, log: readFileSync(logFile, "utf8") + stderr };
}

function summary(runs: Run[]): string {
  const counts = new Map<string, number>();
  for (const r of runs) {
    const key = r.status === null ? "killed after 60 s" : `status ${r.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} × ${k}`).join(", ");
}

for (const current of [false, true]) {
  const label = current ? "PyPI's current Gunicorn" : "Debian's Gunicorn 20.1";
  describe(`an app that does not import, ${WORKERS} workers, ${label}`, () => {
    test(`the master halts with "Worker failed to boot." (status 3), ${RUNS} runs out of ${RUNS}`, async () => {
      const runs: Run[] = [];
      for (let i = 0; i < RUNS; i++) {
        runs.push(await run(config(`site-${i}`, await freePort(), true), current));
      }
      console.log(`${label}, rendered config: ${summary(runs)}`);
      for (const [i, r] of runs.entries()) {
        assert.equal(r.status, 3, `run ${i}: ${summary([r])}\n${r.log.slice(-2000)}`);
        assert.match(r.log, /No module named 'nosuch_app'/, `run ${i}: the app's error is logged`);
        // The halt finished: its reason is the master's last line, and no HaltServer traceback
        // follows it (a second halt inside the stop would end the log with one). A HaltServer
        // traceback may come before it on 20.1: a halt raised while the master forks lands in
        // Python's at-fork callback, which prints and ignores it; the next failed worker halts
        // it. A worker forked just before the halt may still log its own import error after
        // the reason (its own pid): that is not the master's.
        const reason = r.log.lastIndexOf("Reason: Worker failed to boot.");
        assert.ok(reason >= 0, `run ${i}: the halt finished\n${r.log.slice(-2000)}`);
        const master = /Listening at: .* \((\d+)\)/.exec(r.log)?.[1];
        assert.ok(master, `run ${i}: the master said where it listens`);
        const after = r.log.slice(r.log.indexOf("\n", reason) + 1);
        assert.doesNotMatch(after, /HaltServer/, `run ${i}: the halt finished\n${after}`);
        assert.doesNotMatch(
          after,
          new RegExp(`\\[${master}\\] `),
          `run ${i}: the master's last line`,
        );
      }
    });

    if (current) {
      // The control: without the hook this Gunicorn dies of the second halt every time, so the
      // test above sees the hook's work. (20.1's stall is now-and-then: no control can be sure.)
      test("without the hook, the same runs end in a HaltServer traceback", async () => {
        const r = await run(config("bare", await freePort(), false), current);
        assert.equal(r.status, 1, r.log.slice(-2000));
        assert.match(
          r.log,
          /gunicorn\.errors\.HaltServer: <HaltServer 'Worker failed to boot\.' 3>/,
        );
      });
    }
  });
}

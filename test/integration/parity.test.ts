// The replay checked against the real engine: where the command provider is installed, the
// same scenarios run on both — each on a test host of its own (real OpenSSH, sudo, bash,
// Gunicorn and Django; Upstart played by test/host/initctl) — and each step must run the same
// commands, per resource and operation (create, update, delete). A divergence fails with
// both sides. Where the provider is missing there is nothing to compare: the test says so.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "../helpers/freePort";
import { makeApp } from "./app";
import { engineChoice, RealEngine, ReplayEngine, type LifecycleEngine } from "./engine";
import { phases, UpFailed, type Ran } from "./replay";
import { APP_USER_SETUP, siteProgram } from "./site";
import { startTestHost, type TestHost } from "./testHost";

interface Side {
  engine: LifecycleEngine;
  host: TestHost;
  port: number;
}

/** What one step did: the commands that ran, or the resource whose command failed. */
type Outcome = { ran: string[] } | { failed: string; op: string };

const real = engineChoice().kind === "real";

describe("the replay runs what the real engine runs", { timeout: 900_000 }, () => {
  const sides: Side[] = [];
  let app: ReturnType<typeof makeApp>;

  before(async () => {
    if (!real) return;
    app = makeApp();
    app.setVersion("v1");
    for (const make of [(h: TestHost) => new RealEngine(h), (h: TestHost) => new ReplayEngine(h)]) {
      const host = await startTestHost(APP_USER_SETUP);
      sides.push({ engine: make(host), host, port: await freePort() });
    }
  });
  after(() => {
    for (const s of sides) s.host.stop();
  });

  const program = (s: Side, extra: { workers?: number; virtualenv?: string } = {}) =>
    siteProgram(s.host, s.port, {
      appSource: app.dir,
      workers: extra.workers ?? 2,
      ...(extra.virtualenv !== undefined ? { virtualenv: extra.virtualenv } : {}),
    });

  /** Runs one step on both engines, one after the other (they share this process's runtime). */
  async function both(step: (s: Side) => Promise<Ran[]>): Promise<Outcome[]> {
    const out: Outcome[] = [];
    for (const s of sides) {
      try {
        out.push({ ran: phases(await step(s)) });
      } catch (e) {
        if (!(e instanceof UpFailed)) throw e;
        out.push({ failed: e.resource, op: e.op });
      }
    }
    return out;
  }

  const scenarios: [string, (s: Side) => Promise<Ran[]>][] = [
    ["first up", (s) => s.engine.up(program(s))],
    ["no-op up", (s) => s.engine.up(program(s))],
    ["a reload change (workers)", (s) => s.engine.up(program(s, { workers: 3 }))],
    [
      "a restart change (virtualenv)",
      (s) => s.engine.up(program(s, { workers: 3, virtualenv: "/home/app/venv2" })),
    ],
    [
      "a new release",
      (s) => {
        app.setVersion(s.engine.kind === "real" ? "v2" : "v2");
        return s.engine.up(program(s, { workers: 3, virtualenv: "/home/app/venv2" }));
      },
    ],
    [
      "a failed change (a virtualenv that does not exist)",
      (s) => s.engine.up(program(s, { workers: 3, virtualenv: "/opt/typo2" })),
    ],
    ["its revert", (s) => s.engine.up(program(s, { workers: 3, virtualenv: "/home/app/venv2" }))],
    ["destroy", (s) => s.engine.destroy()],
  ];

  test(
    "first up, no-op, reload, restart, release, failed change and revert, destroy: the same commands",
    { skip: real ? false : `nothing to compare: ${engineChoice().reason}` },
    async () => {
      for (const s of sides) {
        s.host.rootOk(
          "/usr/bin/python3 -m venv --system-site-packages --without-pip /home/app/venv2",
        );
      }
      for (const [what, step] of scenarios) {
        const [engine, replay] = await both(step);
        assert.deepEqual(
          replay,
          engine,
          `${what}: the replay ran ${JSON.stringify(replay)}, the real engine ${JSON.stringify(engine)}`,
        );
      }
    },
  );
});

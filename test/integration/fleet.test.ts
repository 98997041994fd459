// GunicornFleet's rolling update on the real-host harness. AWS is not reachable here, so the
// fleet is two services (two Upstart jobs, each a "host" of the fleet with its own loopback
// port) on one test host, behind a small local load balancer standing in for the ALB
// (test/fixtures/balancer.mjs, its own process), driven by the fleet's drain and register steps
// through test/fixtures/balancer-ctl.mjs. Everything else is real: SSH, the launcher, Gunicorn,
// Django, the health gate, and the replay of the fleet's remote and local commands in the
// order Pulumi runs them. Load comes from bench/load.mjs in its own process, bounded in time.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { runLoad } from "../../bench/runLoad";
import { makeApp } from "./app";
import { FLEET_SETUP, fleetProgram, request, startBalancer, type LocalBalancer } from "./fleetSite";
import { type Ran } from "./replay";
import { startTestHost, type TestHost } from "./testHost";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

let host: TestHost;
let replay: LifecycleEngine;
let lb: LocalBalancer;
const app = makeApp();

const program = (extra: Parameters<typeof fleetProgram>[3] = {}, venv = "/home/app/venv") =>
  fleetProgram(host, lb, app.dir, extra, venv);
const state = () => lb.state();

const load = (seconds: number) => runLoad(lb.url, seconds, 8);

/** The fleet's steps that ran, without the file writes: the rolling plan as it happened. */
const steps = (ran: Ran[]) =>
  ran
    .filter((r) => /-(drain|register|service-lifecycle)$/.test(r.name))
    .map((r) => `${r.op} ${r.name}`);

function masters(): string {
  return host
    .rootOk("initctl status web0 2>&1; initctl status web1 2>&1; true")
    .replace(/\s+/g, " ");
}

describe(
  "a fleet of two services behind a local load balancer (standing in for the ALB)",
  { timeout: 600_000 },
  () => {
    before(async () => {
      host = await startTestHost(FLEET_SETUP);
      lb = await startBalancer(2);
      app.setVersion("v1");
      replay = lifecycleEngine(host);
    });
    after(() => {
      lb?.stop();
      host?.stop();
    });

    test("up starts the hosts one after the other, each registered once healthy", async () => {
      const ran = await replay.up(program());
      assert.deepEqual(steps(ran), [
        "create web-0-drain",
        "create web-0-service-lifecycle",
        "create web-0-register",
        "create web-1-drain",
        "create web-1-service-lifecycle",
        "create web-1-register",
      ]);
      assert.deepEqual((await state()).inRotation, [true, true]);
      // Both services share the app's database (one SQLite file on this host): the release
      // migrated once, on the first, before it switched; the second only collected its static.
      const lifecycle = (i: number) => ran.find((r) => r.name === `web-${i}-service-lifecycle`)!;
      assert.match(lifecycle(0).stdout, /manage\.py migrate\n[^]*Applying notes\.0001_initial/);
      assert.doesNotMatch(lifecycle(1).stdout, /migrate/);
      assert.match(lifecycle(1).stdout, /manage\.py collectstatic/);
      for (let i = 0; i < 4; i++) {
        const res = await request(lb.url);
        assert.match(res.body, /version=v1$/);
      }
      assert.ok(
        (await state()).served.every((n) => n >= 2),
        "round robin over both hosts",
      );
    });

    test("a restart-type change rolls host by host: drain, restart, health gate, register; no request fails under load", async () => {
      const before = masters();
      await lb.reset();
      const traffic = load(14);
      await new Promise((r) => setTimeout(r, 1500));
      const ran = await replay.up(program({}, "/home/app/venv2"));
      const { requests } = await traffic;
      assert.deepEqual(steps(ran), [
        "update web-0-drain",
        "update web-0-service-lifecycle",
        "update web-0-register",
        "update web-1-drain",
        "update web-1-service-lifecycle",
        "update web-1-register",
      ]);
      assert.match(ran.find((r) => r.name === "web-0-service-lifecycle")!.stdout, /web0: restart/);
      assert.match(ran.find((r) => r.name === "web-1-service-lifecycle")!.stdout, /web1: restart/);
      assert.notEqual(masters(), before, "both hosts restarted");
      const failed = requests.filter((r) => !r[2]).length;
      console.log(`rolling restart under load: ${failed} failed of ${requests.length}`);
      assert.ok(requests.length > 200, `enough load: ${requests.length}`);
      assert.equal(failed, 0);
      const s = await state();
      assert.equal(s.minInRotation, 1, "never fewer than N - maxUnavailable = 1 host serving");
      assert.deepEqual(s.inRotation, [true, true]);
    });

    test("the same rolling restart without a drain (balancer commands that do nothing) loses requests", async () => {
      await lb.reset();
      const traffic = load(12);
      await new Promise((r) => setTimeout(r, 1000));
      const noDrain = { drain: "true", register: "true", deregister: "true" };
      const ran = await replay.up(program({ balancer: noDrain }, "/home/app/venv"));
      const { requests } = await traffic;
      assert.match(ran.find((r) => r.name === "web-0-service-lifecycle")!.stdout, /web0: restart/);
      const failed = requests.filter((r) => !r[2]).length;
      console.log(
        `rolling restart without drain under load: ${failed} failed of ${requests.length}`,
      );
      assert.ok(failed > 0, "a restarting host still in rotation refuses connections: 502s");
      assert.equal((await state()).minInRotation, 2, "no host was taken out");
    });

    test("destroy deregisters each host before stopping it", async () => {
      // Back to the real balancer commands: only the steps change, the services do nothing.
      const back = await replay.up(program({}, "/home/app/venv"));
      assert.ok(back.filter((r) => /lifecycle/.test(r.name)).every((r) => /: none/.test(r.stdout)));
      const ran = await replay.destroy();
      const order = ran.map((r) => r.name);
      assert.ok(order.indexOf("web-0-register") < order.indexOf("web-0-service-lifecycle"));
      assert.deepEqual((await state()).inRotation, [false, false]);
      assert.doesNotMatch(masters(), /start\/running/);
    });
  },
);

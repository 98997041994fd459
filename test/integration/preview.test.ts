// What only the real engine reports: the steps of a `pulumi preview` and `up
// --expect-no-changes`, on a real host (real OpenSSH, sudo, bash, Gunicorn and Django;
// Upstart played by test/host/initctl). The preview of a settings change is also what
// docs/lifecycle.md shows under "What `pulumi preview` shows on a change": PREVIEW_OUT=<file>
// writes the CLI's text of it there (see that section for the command).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { freePort } from "../helpers/freePort";
import { makeApp } from "./app";
import { engineChoice, RealEngine } from "./engine";
import { APP_USER_SETUP, siteProgram } from "./site";
import { startTestHost, type TestHost } from "./testHost";

const real = engineChoice().kind === "real";
const skip = real ? false : `the real engine only: ${engineChoice().reason}`;

describe("what the real engine previews", { timeout: 600_000 }, () => {
  let host: TestHost;
  let port: number;
  let engine: RealEngine;
  let app: ReturnType<typeof makeApp>;
  const program = (workers: number) =>
    siteProgram(host, port, { appSource: app.dir, workers, logLevel: "info" });

  before(async () => {
    if (!real) return;
    host = await startTestHost(APP_USER_SETUP);
    port = await freePort();
    engine = new RealEngine(host);
    app = makeApp();
    app.setVersion("v1");
    await engine.up(program(2));
  });
  after(() => host?.stop());

  test("an unchanged program is a no-op up with --expect-no-changes", { skip }, async () => {
    assert.deepEqual(await engine.up(program(2), { expectNoChanges: true }), []);
  });

  test(
    "a worker-count change previews as the config write and the lifecycle, nothing else, and runs nothing",
    { skip },
    async () => {
      const master = host.mainPid("site");
      const steps = await engine.preview(program(5));
      const changed = steps
        .filter((s) => s.op !== "same")
        .map((s) => `${s.op} ${s.name}`)
        .sort();
      assert.deepEqual(changed, ["update site-config-write", "update site-service-lifecycle"]);
      assert.match(engine.lastOutput, /~ 2 to update/);
      if (process.env.PREVIEW_OUT !== undefined) {
        writeFileSync(process.env.PREVIEW_OUT, engine.lastOutput);
      }
      assert.equal(host.mainPid("site"), master, "a preview runs nothing");
      assert.match(host.rootOk("cat /etc/gunicorn/site.conf.py"), /^workers = 2$/m);
    },
  );

  test("the change applied reloads the same master", { skip }, async () => {
    const master = host.mainPid("site");
    const ran = await engine.up(program(5));
    assert.deepEqual(
      ran.map((r) => `${r.op} ${r.name}`),
      ["update site-config-write", "update site-service-lifecycle"],
    );
    assert.match(ran[1]!.stdout, /site: reload/);
    assert.equal(host.mainPid("site"), master);
    await engine.destroy();
  });
});

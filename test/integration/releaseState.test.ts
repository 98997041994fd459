// The state does not grow with the app: a release's archive reaches the host as a copy of a
// local file (`remote.CopyToRemote`), so the state keeps that file's path and hash, never its
// content. Real engine only (the replay has no state to measure): a 20 MB app of random bytes
// (incompressible) on a real host (real OpenSSH with SFTP, sudo, bash, Gunicorn and Django;
// Upstart played by test/host/initctl). With the archive as a command's `stdin`, this state was
// 75 MB (the provider kept it as an input and an output, encrypted and base64).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../helpers/freePort";
import { makeApp } from "./app";
import { engineChoice, RealEngine } from "./engine";
import { APP_USER_SETUP, siteProgram } from "./site";
import { startTestHost, type TestHost } from "./testHost";

const real = engineChoice().kind === "real";
const skip = real ? false : `the real engine only: ${engineChoice().reason}`;

describe("a release's state on the real engine", { timeout: 600_000 }, () => {
  let host: TestHost;
  let port: number;
  let engine: RealEngine;
  let app: ReturnType<typeof makeApp>;
  const program = () => siteProgram(host, port, { appSource: app.dir, workers: 2 });

  before(async () => {
    if (!real) return;
    host = await startTestHost(APP_USER_SETUP);
    port = await freePort();
    engine = new RealEngine(host);
    app = makeApp();
    app.setVersion("v1");
    mkdirSync(join(app.dir, "blobs"));
    for (let i = 0; i < 20; i++)
      writeFileSync(join(app.dir, "blobs", `${i}.bin`), randomBytes(1 << 20));
  });
  after(() => host?.stop());

  test(
    "a 20 MB app deploys, and the state stays under 1 MB, release after release",
    { skip },
    async () => {
      await engine.up(program());
      assert.match(await (await fetch(`http://127.0.0.1:${port}/`)).text(), /version=v1$/);
      const first = await engine.exportedBytes();
      assert.ok(first < 1 << 20, `${first} bytes of state`);
      app.setVersion("v2");
      const ran = await engine.up(program());
      assert.ok(
        ran.some((r) => r.name === "site-release-copy" && r.op === "update"),
        ran.map((r) => `${r.op} ${r.name}`).join(", "),
      );
      assert.match(await (await fetch(`http://127.0.0.1:${port}/`)).text(), /version=v2$/);
      const second = await engine.exportedBytes();
      assert.ok(Math.abs(second - first) < 16 << 10, `${first} then ${second} bytes`);
      assert.equal(
        host.rootOk("ls -A /home/deploy/.gunicorn-upstart/uploads"),
        "",
        "the copy is gone once unpacked",
      );
    },
  );

  test("an unchanged app is a no-op up with --expect-no-changes", { skip }, async () => {
    assert.deepEqual(await engine.up(program(), { expectNoChanges: true }), []);
    await engine.destroy();
    assert.equal(host.root("ls /srv/site/releases | wc -l").stdout.trim(), "2", "releases stay");
  });
});

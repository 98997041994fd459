// What the command provider does that an imitation of it hid, each on a real host: the stored
// stdin piped into `delete`; a failed update that keeps the previous inputs; a connection
// change that is an update run only on the new host. Each test failed before its fix in the
// component (see the closing note of the real-engine issue). Same test hosts as
// realHost.test.ts, once per init: the Upstart stand-in, then real systemd.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../helpers/freePort";
import { packRelease } from "../../components/render/appReleasePlan";
import { phases, UpFailed } from "./replay";
import { APP_USER_SETUP, siteProgram } from "./site";
import { startTestHost, type TestHost } from "./testHost";
import { makeApp } from "./app";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

let host: TestHost;
let port: number;
let replay: LifecycleEngine;
let app: ReturnType<typeof makeApp>;

function program(settings: { virtualenv?: string } = {}, on: TestHost = host) {
  return siteProgram(on, port, {
    init: on.init,
    appSource: app.dir,
    workers: 2,
    startTimeout: 10,
    ...settings,
  });
}

const get = async (p = port) => (await fetch(`http://127.0.0.1:${p}/`)).text();

for (const init of ["upstart", "systemd"] as const) {
  describe(`what the command provider does, on a real ${init} host`, { timeout: 600_000 }, () => {
    before(async () => {
      host = await startTestHost(APP_USER_SETUP, { init });
      port = await freePort();
      replay = lifecycleEngine(host);
      app = makeApp();
      app.setVersion("v1");
    });
    after(() => host?.stop());

    test("reverting a change that failed its health gate brings the service back", async () => {
      await replay.up(program());
      assert.match(await get(), /version=v1$/);
      // A virtualenv typo: the launcher changes, the restart never serves, the up fails.
      await assert.rejects(
        replay.up(program({ virtualenv: "/home/app/venv-typo" })),
        (e: unknown) => e instanceof UpFailed && e.resource === "site-service-lifecycle",
      );
      await assert.rejects(get(), "the site is down after the failed change");
      // The engine kept the lifecycle's last good inputs; the revert sends exactly those.
      const ran = await replay.up(program());
      // (The manage command names the virtualenv too: rewritten back, no part of the restart.)
      assert.deepEqual(phases(ran), [
        "update site-launcher-write",
        "update site-manage-write",
        "update site-service-lifecycle",
      ]);
      assert.match(ran.at(-1)!.stdout, /site: (re)?start \(master pid \d+\)/);
      assert.match(await get(), /version=v1$/);
    });

    test("destroy with a release of 3 MB: the delete succeeds and leaves the release", async () => {
      // Random bytes do not compress much: an archive of about 3 MB. It was the upload's
      // stdin, which the provider pipes into the delete too; now it is a copied file.
      writeFileSync(join(app.dir, "blob.txt"), randomBytes(3 << 20).toString("base64"));
      const packed = packRelease(app.dir);
      assert.ok(packed.archive.length > 2 << 20, `${packed.archive.length} bytes`);
      await replay.up(program());
      assert.match(await get(), /version=v1$/);
      const ran = await replay.destroy();
      assert.ok(ran.some((r) => r.name === "site-release-upload" && r.op === "delete"));
      await assert.rejects(get(), "the service is stopped");
      assert.match(
        host.rootOk(`ls /srv/site/releases/${packed.id}/blob.txt`),
        /blob\.txt/,
        "releases are the user's: kept",
      );
    });

    test("moving the service to another host stops and removes it on the old one", async () => {
      const other = await startTestHost(APP_USER_SETUP, { init });
      try {
        replay.addHost(other);
        await replay.up(program());
        assert.match(await get(), /version=v1$/);
        const before = host.mainPid("site");
        assert.ok(before !== undefined);
        // Both hosts share the loopback, so the old one must let go of the port first.
        const ran = await replay.up(program({}, other));
        const ops = phases(ran);
        assert.ok(ops.includes("delete site-service-lifecycle"), ops.join(", "));
        assert.ok(ops.includes("create site-service-lifecycle"), ops.join(", "));
        assert.equal(host.mainPid("site"), undefined, "nothing runs on the old host");
        assert.equal(
          host.root(`ls ${host.initFile("site")} /etc/gunicorn/site.conf.py`).status,
          2,
          "the old host's files are gone",
        );
        assert.ok(other.mainPid("site") !== undefined, "the new host runs it");
        assert.match(await get(), /version=v1$/);
        await replay.destroy();
        assert.equal(other.mainPid("site"), undefined);
      } finally {
        other.stop();
      }
    });
  });
}

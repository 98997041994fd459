// Zero-downtime deploys on a real host: app releases uploaded by the component, switched with
// the `current` symlink and served by a reload (same master, new workers); a release that does
// not import, or that fails the health gate, fails the `up` while the previous release keeps
// serving. Same test hosts as realHost.test.ts, once per init: real OpenSSH, sudo, bash,
// Gunicorn and Django, with test/host/initctl standing in for Upstart, then on real systemd.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "../helpers/freePort";
import { phases, UpFailed } from "./replay";
import { APP_USER_SETUP, siteProgram } from "./site";
import { startTestHost, type TestHost } from "./testHost";
import { makeApp } from "./app";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

let host: TestHost;
let port: number;
let replay: LifecycleEngine;
let app: ReturnType<typeof makeApp>;

function program(extra: { workers?: number } = {}) {
  return siteProgram(host, port, {
    init: host.init,
    appSource: app.dir,
    keepReleases: 2,
    workers: extra.workers ?? 2,
    startTimeout: 15,
    appEnv: { APP_MARK: "from the app's environment" },
    // The user's own release command: as the app user, in the release, with the environment.
    releaseCommands: [
      'echo "$APP_MARK|$(id -un)|$(basename "$PWD")" > /var/lib/mysite/release-mark',
    ],
    // The test app reads its SQLite database there (the sandbox makes the rest read-only).
    readWritePaths: host.init === "systemd" ? ["/var/lib/mysite"] : [],
  });
}

const ops = phases;
const body = async () => (await fetch(`http://127.0.0.1:${port}/`)).text();
const master = () => host.mainPid("site");
const current = () => host.rootOk("readlink /srv/site/current").trim();

for (const init of ["upstart", "systemd"] as const) {
  describe(`app releases on a real ${init} host`, { timeout: 600_000 }, () => {
    before(async () => {
      host = await startTestHost(APP_USER_SETUP, { init });
      port = await freePort();
      replay = lifecycleEngine(host);
      app = makeApp();
      app.setVersion("v1");
    });
    after(() => host?.stop());

    test("the first up uploads release v1, points current at it and serves it", async () => {
      const ran = await replay.up(program());
      assert.deepEqual(ops(ran), [
        "create site-config-write",
        "create site-hooks-write",
        "create site-job-write",
        "create site-launcher-write",
        "create site-logrotate-write",
        "create site-logs-write",
        "create site-manage-write",
        "create site-release-copy",
        "create site-release-upload",
        "create site-service-lifecycle",
      ]);
      // The archive went over SFTP into the deploy user's own directory, and is gone once
      // root unpacked it.
      assert.equal(
        host.rootOk(
          "stat -c '%U' /home/deploy/.gunicorn-upstart/uploads; ls -A /home/deploy/.gunicorn-upstart/uploads",
        ),
        "deploy\n",
      );
      assert.match(current(), /^releases\/[0-9a-f]{16}$/);
      assert.match(await body(), /version=v1$/);
      const out = ran.at(-1)!.stdout;
      assert.match(out, /manage\.py migrate/);
      assert.match(out, /Applying notes\.0001_initial\.\.\. OK/);
      assert.match(out, /static files copied to '\/srv\/site\/static'/);
      // The migration ran before the release served: the model's table is there.
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/notes`)).text(), "notes=0");
      // collectstatic, as the app user, into staticRoot (its STATIC_ROOT), readable by a proxy.
      assert.equal(
        host.rootOk("stat -c '%U %a' /srv/site/static /srv/site/static/notes/site.css").trim(),
        "app 755\napp 644",
      );
      assert.match(host.rootOk("cat /srv/site/static/notes/site.css"), /#123456/);
      assert.equal(
        host.rootOk("cat /var/lib/mysite/release-mark").trim(),
        `from the app's environment|app|${current().replace("releases/", "")}`,
      );
      assert.match(
        host.rootOk(`cat ${host.initFile("site")}`),
        /(exec |ExecStart=)\/usr\/local\/lib\/gunicorn-upstart\/run-site\.sh/,
        "the launcher is outside the releases",
      );
    });

    test("an unchanged app is a no-op up", async () => {
      assert.deepEqual(await replay.up(program()), []);
    });

    test("a code change uploads a release and reloads: same master, new workers, new version", async () => {
      const before = master();
      const releaseBefore = current();
      app.setVersion("v2");
      const ran = await replay.up(program());
      assert.deepEqual(ops(ran), [
        "update site-release-copy",
        "update site-release-upload",
        "update site-service-lifecycle",
      ]);
      assert.match(ran.at(-1)!.stdout, /site: reload \(master pid \d+\)/);
      assert.equal(master(), before, "not restarted");
      assert.notEqual(current(), releaseBefore);
      assert.match(await body(), /version=v2$/);
    });

    test("a release whose migration fails fails the up before it switches; v2 keeps serving", async () => {
      const releaseBefore = current();
      const before = master();
      app.setVersion("v2-with-a-broken-migration");
      app.breakMigration();
      await assert.rejects(replay.up(program()), (e: unknown) => {
        assert.ok(e instanceof UpFailed, String(e));
        assert.equal(e.resource, "site-service-lifecycle");
        assert.match(e.stderr, /manage\.py migrate failed; the running release stays/);
        assert.match(e.stderr, /RuntimeError: this migration is broken/);
        return true;
      });
      assert.equal(current(), releaseBefore, "current did not switch");
      assert.equal(master(), before, "not reloaded");
      assert.match(await body(), /version=v2$/);
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/notes`)).text(), "notes=0");
      app.fixMigration();
      app.setVersion("v2");
    });

    test("an up waits while another one changes the same job on the host, then goes on", async () => {
      // Another up holds the job's lock for 3 s (as a second stack's migration would).
      host.rootOk(
        "nohup flock /var/lib/gunicorn-upstart/site.applied.lock sleep 3 >/dev/null 2>&1 &\nsleep 0.5",
      );
      app.setVersion("v2-after-waiting");
      const ran = await replay.up(program());
      assert.match(ran.at(-1)!.stdout, /another up is changing site on this host; waiting for it/);
      assert.match(ran.at(-1)!.stdout, /site: reload \(master pid \d+\)/);
      assert.match(await body(), /version=v2-after-waiting$/);
      app.setVersion("v2");
      await replay.up(program());
      assert.match(await body(), /version=v2$/);
    });

    test("a release that cannot import fails the up before anything switches; v2 keeps serving", async () => {
      const releaseBefore = current();
      const before = master();
      app.breakImport();
      await assert.rejects(replay.up(program()), (e: unknown) => {
        assert.ok(e instanceof UpFailed, String(e));
        assert.equal(e.resource, "site-service-lifecycle");
        assert.match(e.stderr, /fails to import mysite\.wsgi; the running release stays/);
        assert.match(e.stderr, /No module named 'no_such_module_here'/);
        return true;
      });
      assert.equal(current(), releaseBefore);
      assert.equal(master(), before);
      assert.match(await body(), /version=v2$/);
    });

    test("a release that answers 500 fails the health gate, is rolled back, and v2 serves again", async () => {
      const releaseBefore = current();
      // The import fix alone: the same release as v2. The engine kept the failed release's
      // upload, so the upload runs, and the lifecycle after it, which finds nothing to do.
      app.setVersion("v2");
      const ran = await replay.up(program());
      assert.deepEqual(ops(ran), [
        "update site-release-copy",
        "update site-release-upload",
        "update site-service-lifecycle",
      ]);
      assert.match(
        ran.find((r) => r.name === "site-release-upload")!.stdout,
        /already on the host/,
      );
      assert.match(ran.at(-1)!.stdout, /site: none \(master pid \d+\)/);
      app.break500();
      await assert.rejects(replay.up(program()), (e: unknown) => {
        assert.ok(e instanceof UpFailed, String(e));
        assert.match(
          e.stderr,
          // The warm reload's new workers answered 500 and never took over; the master said so.
          /did not serve on 127\.0\.0\.1:\d+ within 15s after reload: the new workers did not take over: warm reload abandoned, worker \d+ answered \/ with 500/,
        );
        assert.match(e.stderr, /last lines of \/var\/log\/site\/gunicorn\.log/);
        assert.match(e.stderr, /rolled \/srv\/site\/current back to releases\//);
        return true;
      });
      assert.equal(current(), releaseBefore);
      let served = "";
      for (let i = 0; i < 40 && !/version=v2$/.test(served); i++) {
        await new Promise((r) => setTimeout(r, 250));
        served = await body().catch(() => "");
      }
      assert.match(served, /version=v2$/);
    });

    test("fixing the app deploys again, and only the newest releases are kept", async () => {
      app.setVersion("v3");
      const ran = await replay.up(program());
      assert.ok(ops(ran).includes("update site-service-lifecycle"), ops(ran).join(", "));
      assert.match(await body(), /version=v3$/);
      const releases = host.rootOk("ls -1 /srv/site/releases").trim().split("\n");
      assert.ok(releases.length <= 3, `keepReleases 2 (+ the previous one): ${releases.join(" ")}`);
      assert.ok(releases.includes(current().replace("releases/", "")));
    });

    test("destroy stops the service but leaves the releases (app code) in place", async () => {
      const before = master();
      await replay.destroy();
      assert.equal(host.root(`kill -0 ${before}`).status, 1, "the master is gone");
      assert.equal(
        host.rootOk("pgrep -u app -c gunicorn || true").trim(),
        "0",
        "no worker is left",
      );
      assert.equal(host.root("test -d /srv/site/releases && test -L /srv/site/current").status, 0);
    });
  });
}

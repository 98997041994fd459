// Warm reloads on a real host, under load: a settings change and a new release start the new
// workers and wait until they have loaded the app and answered the health path before the old
// ones retire (components/render/warmReload.ts), on Debian's Gunicorn 20.1 and on a current one
// from PyPI (a wheel downloaded by scripts/test-deps.sh, in a virtualenv on the host). Real
// OpenSSH, sudo, bash, Gunicorn and Django, through the replay (test/integration/replay.ts, not
// the real engine), with test/host/initctl standing in for Upstart, then on real systemd.
// Times are not asserted (the machine is shared); what is: no request fails, the init tracks
// the master that serves, a release that answers 500 never takes traffic, a crashed worker is
// replaced afterwards, and a destroy leaves no Gunicorn process.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "../helpers/freePort";
import {
  CURRENT_GUNICORN_VENV,
  currentGunicornSetup,
  currentGunicornWheel,
} from "../helpers/currentGunicorn";
import { runLoad, type LoadResult } from "../../bench/runLoad";
import { UpFailed } from "./replay";
import { APP_USER_SETUP, siteProgram } from "./site";
import { startTestHost, type TestHost } from "./testHost";
import { makeApp } from "./app";
import type { GunicornServiceArgs } from "../../components";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

const GUNICORNS = [
  { label: "Debian's", version: "20.1", venv: "/home/app/venv", job: "debian" },
  {
    label: "PyPI's",
    version: currentGunicornWheel().version,
    venv: CURRENT_GUNICORN_VENV,
    job: "current",
  },
];

/** Runs `change` under a bounded load on `url`, which goes on 2 s after it; what was measured. */
async function underLoad(url: string, change: () => Promise<void>): Promise<LoadResult> {
  const stop = new AbortController();
  const load = runLoad(url, 240, 4, stop.signal);
  await new Promise((r) => setTimeout(r, 1000));
  try {
    await change();
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    stop.abort();
  }
  return load;
}

function failed(load: LoadResult): number {
  return load.requests.filter((r) => !r[2]).length;
}

for (const init of ["upstart", "systemd"] as const) {
  describe(`warm reloads on a real ${init} host`, { timeout: 900_000 }, () => {
    let host: TestHost;
    before(async () => {
      host = await startTestHost(APP_USER_SETUP + currentGunicornSetup(CURRENT_GUNICORN_VENV), {
        init,
      });
    });
    after(() => host?.stop());

    for (const gunicorn of GUNICORNS) {
      describe(`Gunicorn ${gunicorn.label} ${gunicorn.version}`, () => {
        let port: number;
        let replay: LifecycleEngine;
        let app: ReturnType<typeof makeApp>;
        const name = gunicorn.job;
        const url = () => `http://127.0.0.1:${port}/`;
        const body = async () => (await fetch(url())).text();
        const log = () => host.rootOk(`cat /var/log/${name}/gunicorn.log`);
        const readyLines = () => (log().match(/new workers ready in/g) ?? []).length;
        const workers = () =>
          host
            .rootOk(`ps -o pid= --ppid ${host.mainPid(name) ?? 0} || true`)
            .split(/\s+/)
            .filter(Boolean)
            .map(Number);
        /** The init's main PID is the parent of the worker that answered. */
        async function servedByInitsMaster(): Promise<number> {
          const pid = Number(/pid=(\d+)/.exec(await body())?.[1]);
          const parent = Number(host.rootOk(`ps -o ppid= -p ${pid}`).trim());
          assert.equal(host.mainPid(name), parent, "the init's main PID is the serving master");
          return parent;
        }
        const program = (extra: Partial<GunicornServiceArgs> = {}) =>
          siteProgram(
            host,
            port,
            {
              init: host.init,
              appSource: app.dir,
              virtualenv: gunicorn.venv,
              keepReleases: 2,
              workers: 2,
              startTimeout: 12,
              logLevel: "info",
              readWritePaths: host.init === "systemd" ? ["/var/lib/mysite"] : [],
              ...extra,
            },
            name,
          );

        before(async () => {
          port = await freePort();
          replay = lifecycleEngine(host);
          app = makeApp();
          app.setVersion("v1");
        });

        test("the first up serves v1 with this Gunicorn and the warm hooks", async () => {
          await replay.up(program());
          assert.match(await body(), /version=v1$/);
          const version = host
            .rootOk(`${gunicorn.venv}/bin/python -c 'import gunicorn; print(gunicorn.__version__)'`)
            .trim();
          assert.ok(version.startsWith(gunicorn.version), `Gunicorn ${version}`);
          assert.match(
            host.rootOk(`cat /etc/gunicorn/${name}.conf.py`),
            /^on_reload = _warm_on_reload$/m,
          );
        });

        test("a settings change under load: new workers ready before the old retire, nothing fails", async () => {
          const master = await servedByInitsMaster();
          const old = workers();
          const load = await underLoad(url(), async () => {
            await replay.up(program({ workers: 3 }));
          });
          assert.equal(failed(load), 0, "no request failed");
          assert.ok(load.requests.length > 50, `${load.requests.length} requests`);
          assert.equal(await servedByInitsMaster(), master, "the same master");
          const now = workers();
          assert.equal(now.length, 3);
          assert.ok(
            now.every((pid) => !old.includes(pid)),
            "every worker is new",
          );
          assert.equal(readyLines(), 1, "the master said the new workers were ready first");
        });

        // Right after a warm reload: the second in a row must retire exactly the old workers.
        test("a release under load: served by new workers of the same master, nothing fails", async () => {
          const old = workers();
          const master = await servedByInitsMaster();
          app.setVersion("v2");
          const load = await underLoad(url(), async () => {
            await replay.up(program({ workers: 3 }));
          });
          assert.equal(failed(load), 0, "no request failed");
          assert.match(await body(), /version=v2$/);
          assert.equal(await servedByInitsMaster(), master);
          assert.equal(readyLines(), 2);
          const now = workers();
          assert.equal(now.length, 3);
          assert.ok(
            now.every((pid) => !old.includes(pid)),
            "every old worker retired",
          );
        });

        test("reloadStrategy hup keeps Gunicorn's plain HUP", async () => {
          const master = await servedByInitsMaster();
          const old = workers();
          await replay.up(program({ workers: 3, reloadStrategy: "hup" }));
          assert.equal(await servedByInitsMaster(), master);
          assert.ok(
            workers().every((pid) => !old.includes(pid)),
            "new workers",
          );
          assert.equal(readyLines(), 2, "no warm reload this time");
        });

        test("a release that imports but answers 500 never takes traffic; v2 keeps serving", async () => {
          const master = await servedByInitsMaster();
          const current = host.rootOk(`readlink /srv/${name}/current`);
          app.break500();
          let error: unknown;
          const load = await underLoad(url(), async () => {
            await replay.up(program({ workers: 3 })).catch((e: unknown) => {
              error = e;
            });
          });
          assert.ok(error instanceof UpFailed, String(error));
          assert.match(error.stderr, /warm reload abandoned, worker \d+ answered \/ with 500/);
          assert.match(error.stderr, /rolled .* back to releases\//);
          assert.equal(failed(load), 0, "not one request reached the broken release");
          assert.match(await body(), /version=v2$/);
          assert.equal(host.rootOk(`readlink /srv/${name}/current`), current);
          assert.equal(await servedByInitsMaster(), master);
          app.setVersion("v2");
        });

        test("a worker that crashes afterwards is replaced by the master", async () => {
          const master = await servedByInitsMaster();
          const before = workers();
          host.rootOk(`kill -9 ${before[0]}`);
          const deadline = Date.now() + 15_000;
          while (workers().length < before.length || workers().includes(before[0]!)) {
            assert.ok(Date.now() < deadline, "no replacement worker within 15 s");
            await new Promise((r) => setTimeout(r, 200));
          }
          assert.match(await body(), /version=v2$/);
          assert.equal(await servedByInitsMaster(), master);
        });

        test("destroy stops the service and leaves no Gunicorn process", async () => {
          await replay.destroy();
          assert.equal(host.mainPid(name), undefined);
          assert.equal(host.root("pgrep -a -f '[g]unicorn'").stdout.trim(), "");
        });
      });
    }
  });
}

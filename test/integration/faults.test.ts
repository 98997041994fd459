// Faults on a real host: the SSH session killed in the middle of each remote step, a full disk,
// and lifecycle scripts run twice. After each, the next `up` converges: one Gunicorn master,
// the configured number of workers, all of them its children, no partial file. Real OpenSSH,
// sudo, bash, Gunicorn and Django; Upstart played by test/host/initctl.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { freePort } from "../helpers/freePort";
import { UpFailed, type Ran } from "./replay";
import { APP_USER_SETUP, siteProgram } from "./site";
import { startTestHost, type TestHost } from "./testHost";
import { makeApp } from "./app";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

let host: TestHost;
let port: number;
let replay: LifecycleEngine;
let app: ReturnType<typeof makeApp>;

function program(extra: { workers?: number; secret?: string } = {}) {
  return siteProgram(host, port, {
    appSource: app.dir,
    workers: extra.workers ?? 2,
    appEnv: extra.secret !== undefined ? { BIG_SECRET: pulumi.secret(extra.secret) } : {},
  });
}

const ops = (ran: Ran[]) => ran.map((r) => `${r.op} ${r.name}`);

/** The Gunicorn processes of the job: exactly one master and its workers (all as app). */
function processes(): { masters: number[]; workers: { pid: number; ppid: number }[] } {
  const rows = host
    .rootOk(
      "ps -eo pid=,ppid=,user=,args= | grep '[g]unicorn --config /etc/gunicorn/site.conf.py' || true",
    )
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/));
  // Master and workers both run as app: a master is a Gunicorn whose parent is not one.
  const pids = new Set(rows.map((r) => r[0]));
  return {
    masters: rows.filter((r) => !pids.has(r[1]!)).map((r) => Number(r[0])),
    workers: rows
      .filter((r) => pids.has(r[1]!))
      .map((r) => ({ pid: Number(r[0]), ppid: Number(r[1]) })),
  };
}

async function converged(workers: number): Promise<void> {
  let p = processes();
  for (let i = 0; i < 60 && !(p.masters.length === 1 && p.workers.length === workers); i++) {
    await new Promise((r) => setTimeout(r, 250));
    p = processes();
  }
  assert.equal(p.masters.length, 1, `one master: ${JSON.stringify(p)}`);
  assert.equal(p.workers.length, workers, `${workers} workers: ${JSON.stringify(p)}`);
  assert.ok(
    p.workers.every((w) => w.ppid === p.masters[0]),
    "no orphan worker",
  );
  const res = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(res.status, 200);
}

describe("faults on a real host", { timeout: 600_000 }, () => {
  before(async () => {
    host = await startTestHost(APP_USER_SETUP);
    port = await freePort();
    replay = lifecycleEngine(host);
    app = makeApp();
    app.setVersion("v1");
  });
  after(() => host?.stop());

  test("SSH killed during the first start: the next up converges to one serving master", async () => {
    await assert.rejects(
      replay.up(program(), { interrupt: { resource: "site-service-lifecycle", afterMs: 700 } }),
      (e: unknown) => e instanceof UpFailed && e.resource === "site-service-lifecycle",
    );
    const ran = await replay.up(program());
    assert.deepEqual(
      ops(ran),
      ["create site-service-lifecycle"],
      "the files were written; only the start is retried",
    );
    await converged(2);
  });

  test("SSH killed during a reload: the next up converges, with the new worker count", async () => {
    await assert.rejects(
      replay.up(program({ workers: 3 }), {
        interrupt: { resource: "site-service-lifecycle", afterMs: 500 },
      }),
      (e: unknown) => e instanceof UpFailed,
    );
    await replay.up(program({ workers: 3 }));
    await converged(3);
  });

  test("SSH killed during a file write: the old file stays, and the next up writes the new one", async () => {
    const before = host.rootOk("cat /etc/gunicorn/site.conf.py");
    const big = "x".repeat(3_000_000); // long enough to be cut in the middle
    await assert.rejects(
      replay.up(program({ workers: 3, secret: big }), {
        interrupt: {
          resource: "site-config-write",
          afterMs: 300,
          whenOnHost: "compgen -G '/etc/gunicorn/.site.conf.py.*' >/dev/null",
        },
      }),
      (e: unknown) => e instanceof UpFailed && e.resource === "site-config-write",
    );
    assert.equal(host.rootOk("cat /etc/gunicorn/site.conf.py"), before, "no partial file");
    assert.equal(
      host.rootOk("ls -A /etc/gunicorn | grep -c '^\\.site' || true").trim(),
      "0",
      "no temp file",
    );
    await replay.up(program({ workers: 3, secret: big }));
    assert.equal(
      Buffer.byteLength(host.rootOk("cat /etc/gunicorn/site.conf.py")) > 3_000_000,
      true,
    );
    await converged(3);
  });

  test("a full disk fails the write with a clear error and leaves the old file", async () => {
    const before = host.rootOk("sha256sum /etc/gunicorn/site.conf.py");
    // A small tmpfs over /etc/gunicorn with the current file, filled up.
    host.rootOk(
      [
        "saved=$(mktemp -d)",
        'cp -a /etc/gunicorn/. "$saved/"',
        "mount -t tmpfs -o size=32m tmpfs /etc/gunicorn",
        'cp -a "$saved/." /etc/gunicorn/',
        'rm -rf "$saved"',
        "dd if=/dev/zero of=/etc/gunicorn/.filler bs=64k 2>/dev/null || true",
      ].join("\n"),
    );
    try {
      await assert.rejects(
        replay.up(program({ workers: 4, secret: "y".repeat(100_000) })),
        (e: unknown) => {
          assert.ok(e instanceof UpFailed, String(e));
          assert.equal(e.resource, "site-config-write");
          assert.match(e.stderr, /No space left on device/);
          return true;
        },
      );
      assert.equal(
        host.rootOk("sha256sum /etc/gunicorn/site.conf.py"),
        before,
        "the old file is intact",
      );
      assert.deepEqual(
        host.rootOk("ls -A /etc/gunicorn").trim().split("\n").sort(),
        [".filler", "__pycache__", "site.conf.py", "site.hooks.py"]
          .filter(
            (f) =>
              f !== "__pycache__" || host.root("test -d /etc/gunicorn/__pycache__").status === 0,
          )
          .sort(),
        "no temp file left",
      );
      await converged(3);
    } finally {
      host.rootOk("umount /etc/gunicorn");
    }
  });

  test("every script run twice in a row changes nothing the second time", async () => {
    const state = host.rootOk("cat /var/lib/gunicorn-upstart/site.applied");
    const master = processes().masters[0];
    const files =
      "sha256sum /etc/init/site.conf /usr/local/lib/gunicorn-upstart/run-site.sh /etc/gunicorn/site.hooks.py /etc/gunicorn/site.conf.py";
    const before = host.rootOk(files);
    for (const name of [
      "site-job-write",
      "site-launcher-write",
      "site-hooks-write",
      "site-config-write",
      "site-release-upload",
    ]) {
      await replay.rerun(name);
    }
    const again = await replay.rerun("site-service-lifecycle");
    assert.match(again.stdout, /site: none \(master pid \d+\)/);
    assert.equal(host.rootOk("cat /var/lib/gunicorn-upstart/site.applied"), state);
    assert.equal(processes().masters[0], master, "not restarted");
    assert.equal(host.rootOk(files), before, "the same files");
    await converged(3);
  });
});

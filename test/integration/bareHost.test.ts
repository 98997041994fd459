// From a bare host to a serving site in one `up`: the component prepares the host (service
// user and group, directories; OS packages only when missing), builds the virtualenv with the
// demo app's requirements, deploys examples/hello-django as a release and starts it; logs
// rotate with a USR1 instead of a restart. Real OpenSSH, sudo, bash, Python venv and pip,
// Gunicorn, Django and logrotate; Upstart played by test/host/initctl.
//
// No package index is reachable here, so the virtualenv sees Debian's Django and Gunicorn
// (--system-site-packages) and pip is pointed at a dead index: the requirements must be
// satisfied without any download, and would fail loudly otherwise.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { GunicornService } from "../../components";
import { freePort } from "../helpers/freePort";
import { UpFailed, recorder, type Ran } from "./replay";
import { startTestHost, type TestHost } from "./testHost";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

const DEMO = resolve(__dirname, "../../examples/hello-django");
let host: TestHost;
let port: number;
let replay: LifecycleEngine;

function program(extra: { requirements?: string } = {}) {
  return () => {
    const svc = new GunicornService(
      "hello",
      {
        host: {
          host: "127.0.0.1",
          port: host.port,
          user: host.user,
          privateKey: pulumi.secret(host.privateKey),
        },
        job: "hello",
        user: "hello",
        group: "hello",
        appSource: DEMO,
        virtualenv: "/srv/hello/venv",
        logFile: "/var/log/hello/gunicorn.log",
        accessLog: "/var/log/hello/access.log",
        wsgiApp: "hello.wsgi:application",
        bind: `127.0.0.1:${port}`,
        workers: "auto",
        healthCheckPath: "/health",
        prepareHost: { packages: ["python3", "python3-venv"] },
        pythonEnv: {
          python: "/usr/bin/python3",
          systemSitePackages: true,
          requirements:
            extra.requirements ?? readFileSync(resolve(DEMO, "requirements.txt"), "utf8"),
          indexUrl: "http://127.0.0.1:9/simple", // nothing listens: any download would fail
        },
      },
      { transformations: [recorder] },
    );
    return [svc.status];
  };
}

const ops = (ran: Ran[]) => ran.map((r) => `${r.op} ${r.name}`);
const get = async (path = "/") => (await fetch(`http://127.0.0.1:${port}${path}`)).text();
const master = () => Number(/process (\d+)/.exec(host.rootOk("initctl status hello"))?.[1]);

describe("from a bare host to a serving site", { timeout: 600_000 }, () => {
  before(async () => {
    host = await startTestHost(""); // nothing but the deploy user: no app user, no virtualenv
    port = await freePort();
    replay = lifecycleEngine(host);
  });
  after(() => host?.stop());

  test("one up creates the user, directories and virtualenv, deploys the demo and serves it", async () => {
    assert.notEqual(host.root("id hello").status, 0, "the host starts without the service user");
    const ran = await replay.up(program());
    // The host's preparation comes first; the virtualenv and the file writes then start
    // together (the real engine starts them in its own order).
    assert.equal(ops(ran)[0], "create hello-host-prepare");
    assert.ok(ops(ran).includes("create hello-python-install"), ops(ran).join(", "));
    assert.equal(ops(ran).at(-1), "create hello-service-lifecycle");
    assert.match(
      ran[0]!.stdout,
      /created group hello[\s\S]*created user hello[\s\S]*created \/srv\/hello[\s\S]*created \/var\/log\/hello/,
    );
    assert.doesNotMatch(ran[0]!.stdout, /installing/, "the packages were there: no apt-get");
    assert.match(
      host.rootOk("getent passwd hello"),
      /^hello:x:\d+:\d+::\/srv\/hello:\/usr\/sbin\/nologin$/m,
    );
    assert.equal(
      host.rootOk("stat -c '%n %U:%G %a' /srv/hello /var/log/hello"),
      "/srv/hello root:hello 755\n/var/log/hello hello:hello 750\n",
    );
    assert.match(
      host.rootOk(
        "/srv/hello/venv/bin/python -c 'import django, gunicorn; print(django.VERSION[0])'",
      ),
      /^\d+$/m,
    );
    assert.match(await get(), /^Hello from Django on Gunicorn\.\nhost=\S+ worker=\d+ version=1\n$/);
    const cpus = Number(host.rootOk("nproc").trim());
    const workers = host.rootOk(`ps -o pid= --ppid ${master()} | wc -l`).trim();
    assert.equal(Number(workers), 2 * cpus + 1, "workers auto: 2 x CPUs + 1, computed on the host");
  });

  test("a second up changes nothing", async () => {
    assert.deepEqual(await replay.up(program()), []);
  });

  test("a pip failure fails the up with pip's last lines", async () => {
    const bad = "no-such-package-anywhere==1.0\n";
    await assert.rejects(replay.up(program({ requirements: bad })), (e: unknown) => {
      assert.ok(e instanceof UpFailed, String(e));
      assert.equal(e.resource, "hello-python-install");
      assert.match(e.stderr, /pip install into \/srv\/hello\/venv failed; its last lines:/);
      assert.match(e.stderr, /no-such-package-anywhere/);
      return true;
    });
    // A failed update leaves the resource's previous state (as in Pulumi): going back to the
    // good requirements is no change at all, and the service never stopped serving.
    assert.deepEqual(ops(await replay.up(program())), []);
    assert.match(await get(), /^Hello from Django/);
  });

  test("the logrotate rule passes logrotate -d, and a forced rotation reopens the logs without a restart", async () => {
    const rule = host.rootOk("cat /etc/logrotate.d/gunicorn-hello");
    assert.match(rule, /^\/var\/log\/hello\/gunicorn\.log \/var\/log\/hello\/access\.log \{$/m);
    assert.doesNotMatch(rule, /copytruncate/);
    const debug = host.root("logrotate -d /etc/logrotate.d/gunicorn-hello");
    assert.equal(debug.status, 0, debug.stderr);
    await get("/health");
    const before = master();
    assert.match(host.rootOk("cat /var/log/hello/access.log"), /GET \/health/);
    host.rootOk("logrotate -f -s /var/lib/logrotate-test.state /etc/logrotate.d/gunicorn-hello");
    assert.match(host.rootOk("ls /var/log/hello"), /access\.log\.1/);
    await new Promise((r) => setTimeout(r, 1000)); // USR1 is asynchronous
    await get("/?after-rotation");
    let fresh = "";
    for (let i = 0; i < 20 && !/after-rotation/.test(fresh); i++) {
      await new Promise((r) => setTimeout(r, 250));
      fresh = host.rootOk("cat /var/log/hello/access.log");
    }
    assert.match(fresh, /GET \/\?after-rotation/, "Gunicorn writes to the new file");
    assert.doesNotMatch(fresh, /GET \/health/, "and only the new lines are in it");
    assert.equal(master(), before, "no restart");
  });

  test("destroy stops the service and keeps the user, the directories and the virtualenv", async () => {
    await replay.destroy();
    assert.equal(host.root("id hello").status, 0);
    assert.equal(
      host.root("test -d /srv/hello/venv && test -d /var/log/hello && test -L /srv/hello/current")
        .status,
      0,
    );
    assert.equal(
      host.root("test -e /etc/logrotate.d/gunicorn-hello").status,
      1,
      "our rule is removed",
    );
  });
});

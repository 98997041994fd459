// The component against a real host: real OpenSSH, sudo, bash, the generated launcher, Debian's
// Gunicorn and Django, once per init. Upstart: the only stand-in is the init, test/host/initctl
// plays Upstart's `initctl` (Upstart is not installable here), reading the real job file
// /etc/init/<job>.conf. systemd: nothing is stood in, the host is a Debian container booted
// with systemd-nspawn, real systemd as PID 1 reading /etc/systemd/system/<job>.service.
// The replay (./replay.ts) runs the component's own remote commands the way Pulumi would.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import type { GunicornServiceArgs } from "../../components";
import { asRemoteCommand, renderWriteFileScript } from "../../components/render/remoteScripts";
import { freePort } from "../helpers/freePort";
import { phases, UpFailed } from "./replay";
import { siteProgram } from "./site";
import { startTestHost, type TestHost } from "./testHost";

// The app: a service user, two virtualenvs that see Debian's Django and Gunicorn
// (--system-site-packages: no package index is reachable), and a project made by
// django-admin with one view that answers with the worker's PID and a version string.
const APP_SETUP = String.raw`
useradd --system --create-home --home-dir /home/app --shell /usr/sbin/nologin app
/usr/bin/python3 -m venv --system-site-packages --without-pip /home/app/venv
/usr/bin/python3 -m venv --system-site-packages --without-pip /home/app/venv2
django-admin startproject mysite /home/app 2>/dev/null || true
mkdir -p /home/app/site
django-admin startproject mysite /home/app/site
cat >> /home/app/site/mysite/settings.py <<'PY'
ALLOWED_HOSTS = ["*"]
PY
cat > /home/app/site/mysite/views.py <<'PY'
import os, time
from django.http import HttpResponse

def whoami(request):
    time.sleep(float(request.GET.get("sleep", "0")))
    with open(os.path.join(os.path.dirname(__file__), "VERSION")) as f:
        version = f.read().strip()
    return HttpResponse("pid=%d version=%s" % (os.getpid(), version))
PY
cat > /home/app/site/mysite/urls.py <<'PY'
from django.urls import path
from . import views

urlpatterns = [path("", views.whoami)]
PY
echo v1 > /home/app/site/mysite/VERSION
chown -R app:app /home/app
`;
import { lifecycleEngine, type LifecycleEngine } from "./engine";

let host: TestHost;
let port: number;
let replay: LifecycleEngine;

function service(extra: Partial<GunicornServiceArgs> = {}): () => pulumi.Output<unknown>[] {
  return siteProgram(host, port, {
    init: host.init,
    projectDir: "/home/app/site",
    workers: 2,
    logLevel: "info",
    appEnv: { DJANGO_SETTINGS_MODULE: "mysite.settings", GREETING: "from the config" },
    ...extra,
  });
}

const ops = phases;

async function get(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return res.text();
}

function masterPid(job = "site"): number {
  const pid = host.mainPid(job);
  assert.ok(pid, `${job} is not running`);
  return pid;
}

function workers(master: number): { pid: number; user: string }[] {
  return host
    .rootOk(`ps -o pid=,user= --ppid ${master} || true`)
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [pid, user] = line.trim().split(/\s+/);
      return { pid: Number(pid), user: String(user) };
    });
}

async function eventually(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const HOSTS = {
  upstart: "on a real host (OpenSSH, sudo, bash, Gunicorn, Django; Upstart played by a stand-in)",
  systemd: "on a real systemd host (a Debian container booted by systemd-nspawn; nothing stood in)",
} as const;

for (const [init, title] of Object.entries(HOSTS) as [keyof typeof HOSTS, string][]) {
  describe(title, { timeout: 900_000 }, () => {
    before(async () => {
      host = await startTestHost(APP_SETUP, { init });
      port = await freePort();
      replay = lifecycleEngine(host);
    });
    after(() => host?.stop());

    test("up on a fresh host writes the files, starts the job and serves Django", async () => {
      const ran = await replay.up(service());
      assert.deepEqual(ops(ran), [
        "create site-config-write",
        "create site-hooks-write",
        "create site-job-write",
        "create site-launcher-write",
        "create site-logrotate-write",
        "create site-logs-write",
        "create site-manage-write",
        "create site-service-lifecycle",
      ]);
      assert.match(ran.at(-1)!.stdout, /site: start \(master pid \d+\)/);
      const modes = host.rootOk(
        `stat -c '%n %U:%G %a' ${host.initFile("site")} /usr/local/lib/gunicorn-upstart/run-site.sh /etc/gunicorn/site.conf.py`,
      );
      assert.equal(
        modes,
        `${host.initFile("site")} root:root 644\n/usr/local/lib/gunicorn-upstart/run-site.sh root:root 755\n/etc/gunicorn/site.conf.py root:app 640\n`,
      );
      if (init === "systemd") {
        // Enabled, so it comes back after a reboot (the runlevels of `start on`); the unit
        // passes systemd's own check on the host that runs it.
        assert.equal(host.rootOk("systemctl is-enabled site.service").trim(), "enabled");
        const verify = host.root("systemd-analyze verify /etc/systemd/system/site.service");
        assert.equal(verify.status, 0, verify.stderr);
        assert.equal(verify.stderr, "");
      }
      assert.match(await get(`http://127.0.0.1:${port}/`), /^pid=\d+ version=v1$/);
      const log = host.rootOk("cat /var/log/site/gunicorn.log");
      assert.match(log, /\[INFO\] Listening at: http:\/\/127\.0\.0\.1:\d+/);
      assert.doesNotMatch(log, /\[DEBUG\]/, "log level info: no debug lines");
      const master = masterPid();
      assert.equal(
        host.rootOk(`ps -o user= -p ${master}`).trim(),
        "app",
        "the master runs as the app user by default (the recipe's ran as root)",
      );
      const ws = workers(master);
      assert.equal(ws.length, 2);
      assert.ok(
        ws.every((w) => w.user === "app"),
        `workers run as app: ${JSON.stringify(ws)}`,
      );
    });

    test("site-manage runs Django's manage.py as the app user, with the virtualenv and the app environment", () => {
      // Run by root (an admin with sudo), as on a real host: it drops to the app user first.
      const check = host.root("/usr/local/bin/site-manage check");
      assert.equal(check.status, 0, check.stderr);
      assert.match(check.stdout, /System check identified no issues/);
      const who = host.root(
        `/usr/local/bin/site-manage shell -c 'import os, django; print(os.getuid(), os.environ["GREETING"], django.VERSION[0])'`,
      );
      assert.equal(who.status, 0, who.stderr);
      const uid = host.rootOk("id -u app").trim();
      assert.match(who.stdout, new RegExp(`^${uid} from the config \\d+\\s*$`));
    });

    test("a second up with no change runs no remote command", async () => {
      assert.deepEqual(await replay.up(service()), []);
    });

    test("a worker-count change reloads: same master PID, new number of workers", async () => {
      const master = masterPid();
      const oldWorkers = workers(master).map((w) => w.pid);
      const ran = await replay.up(service({ workers: 4 }));
      assert.deepEqual(ops(ran), ["update site-config-write", "update site-service-lifecycle"]);
      assert.match(ran[1]!.stdout, /site: reload \(master pid (\d+)\)/);
      assert.equal(masterPid(), master, "not restarted");
      await eventually(() => workers(master).length === 4, "4 workers");
      const now = workers(master).map((w) => w.pid);
      assert.ok(
        now.every((p) => !oldWorkers.includes(p)),
        "the old workers were replaced",
      );
      assert.match(await get(`http://127.0.0.1:${port}/`), /version=v1/);
    });

    test("a forced log rotation makes the same master write a new log file (USR1 via the init's PID)", async () => {
      const master = masterPid();
      const debug = host.root("logrotate -d /etc/logrotate.d/gunicorn-site");
      assert.equal(debug.status, 0, debug.stderr);
      host.rootOk("logrotate -f -s /var/lib/logrotate-test.state /etc/logrotate.d/gunicorn-site");
      assert.match(host.rootOk("ls /var/log/site"), /gunicorn\.log\.1/);
      // USR1 is asynchronous: the master reopens its log, so its open files show the new one.
      const openLogs = () =>
        host.rootOk(`ls -l /proc/${master}/fd | grep -o '/var/log/site/gunicorn.log.*' || true`);
      await eventually(() => {
        // The logging handler, and stdout and stderr (capture_output): all on the new file.
        const open = openLogs().trim().split("\n");
        return open.length >= 3 && open.every((f) => f === "/var/log/site/gunicorn.log");
      }, "the master to reopen its log").catch((e: unknown) => {
        throw new Error(`${String(e)}; open: ${openLogs()}`);
      });
      // And it writes there: a HUP is logged by the master into the current file.
      host.rootOk(`kill -HUP ${master}`);
      await eventually(
        () => /Handling signal: hup/.test(host.rootOk("cat /var/log/site/gunicorn.log")),
        "the master to log into the new file",
      );
      assert.equal(masterPid(), master, "not restarted");
    });

    test("a launcher change (a new virtualenv) restarts the job, which serves again", async () => {
      const master = masterPid();
      const ran = await replay.up(service({ workers: 4, virtualenv: "/home/app/venv2" }));
      // The manage command runs the virtualenv's Python too: rewritten, no part of the restart.
      assert.deepEqual(ops(ran), [
        "update site-launcher-write",
        "update site-manage-write",
        "update site-service-lifecycle",
      ]);
      assert.match(ran[2]!.stdout, /site: restart/);
      assert.notEqual(masterPid(), master, "a new master");
      assert.match(
        host.rootOk("cat /usr/local/lib/gunicorn-upstart/run-site.sh"),
        /VIRTUALENV='\/home\/app\/venv2'/,
      );
      assert.match(await get(`http://127.0.0.1:${port}/`), /^pid=\d+ version=v1$/);
    });

    test("a restart onto a virtualenv that does not exist fails with a short message: the reason first, then the line that names the cause", async () => {
      // What a person reads when `up` fails: the engine's error holds the command (a short
      // stub), what the step printed live (a few progress lines), then the step's reason and
      // the tail of its log. Never the script, and bounded however much the step printed.
      await assert.rejects(
        replay.up(service({ workers: 4, virtualenv: "/opt/typo2" })),
        (e: unknown) => {
          assert.ok(e instanceof UpFailed, String(e));
          assert.equal(e.resource, "site-service-lifecycle");
          const lines = e.stderr.trimEnd().split("\n");
          assert.ok(lines.length <= 40, `${lines.length} lines:\n${e.stderr}`);
          assert.match(lines[0]!, /^Process exited with status 1: running "/);
          assert.ok(lines[0]!.length < 400, `the command is short: ${lines[0]}`);
          const reason = lines.findIndex((l) =>
            /^gunicorn-upstart: the lifecycle of site on /.test(l),
          );
          assert.ok(reason > 0 && reason <= 4, `the reason comes first:\n${e.stderr}`);
          assert.match(
            lines[reason]!,
            /failed: site did not serve on 127\.0\.0\.1:\d+ within 30s after restart: the job is not running$/,
          );
          assert.match(e.stderr, /\/opt\/typo2\/bin\/activate: No such file or directory/);
          assert.doesNotMatch(e.stderr, /set -euo pipefail|root_only_dir|run_step/, "no script");
          return true;
        },
      );
      // Fixed, the next up restarts onto the virtualenv that is there, and serves.
      const ran = await replay.up(service({ workers: 4, virtualenv: "/home/app/venv2" }));
      assert.match(ran.at(-1)!.stdout, /site: (re)?start \(master pid \d+\)/);
      assert.match(await get(`http://127.0.0.1:${port}/`), /^pid=\d+ version=v1$/);
    });

    test("a crashing app fails the up with the Gunicorn log's tail, without hanging, and respawn stops at its limit", async () => {
      const brokenPort = await freePort();
      const broken = lifecycleEngine(host);
      const program = siteProgram(
        host,
        brokenPort,
        {
          init: host.init,
          projectDir: "/home/app/site",
          wsgiApp: "nosuch.wsgi:application",
          // Several workers fail to boot at once: the config's boot-failure hook makes the master
          // exit at once every time (without it, Debian's 20.1 now and then waited out
          // graceful_timeout for a worker it never reaped, and a CI run missed the limit).
          workers: 3,
          // One respawn, and time for both crashes within the gate even on a loaded machine.
          respawnLimitCount: 1,
          respawnLimitInterval: 60,
          startTimeout: 20,
        },
        "broken",
      );
      const started = Date.now();
      try {
        await assert.rejects(broken.up(program), (e: unknown) => {
          assert.ok(e instanceof UpFailed, String(e));
          assert.equal(e.resource, "broken-service-lifecycle");
          assert.match(e.stderr, /broken did not serve on 127\.0\.0\.1:\d+ within 20s after start/);
          assert.match(e.stderr, /No module named 'nosuch'/, "the log tail is in the error");
          return true;
        });
        const seconds = (Date.now() - started) / 1000;
        assert.ok(seconds < 50, `up gave up after ${seconds}s`);
        if (init === "systemd") {
          await eventually(
            () =>
              /ActiveState=failed/.test(
                host.rootOk("systemctl show -p ActiveState broken.service"),
              ),
            "the unit to stop restarting",
          );
          assert.match(
            host.rootOk("journalctl -u broken.service --no-pager"),
            /Start request repeated too quickly/,
          );
        } else {
          await eventually(
            () => /stop\/waiting/.test(host.rootOk("initctl status broken")),
            "the job to stop respawning",
          );
          assert.match(
            host.rootOk("cat /var/log/upstart/broken.log"),
            /respawning too fast, stopped/,
          );
        }
        const starts = host
          .rootOk("grep -c 'Starting gunicorn' /var/log/broken/gunicorn.log")
          .trim();
        assert.equal(starts, "2", "started once and respawned once (respawn limit 1 60)");
      } finally {
        await broken.destroy();
      }
    });

    test("killing the SSH session in the middle of a file write leaves the old file or the new one, never a part", async () => {
      const path = "/etc/gunicorn/site.conf.py";
      const before = host.rootOk(`cat ${path}`);
      const next = "# new content\n" + "x = 1\n".repeat(200_000);
      const command = asRemoteCommand(
        renderWriteFileScript(
          { path, owner: "root", group: "app", mode: "0640" },
          Buffer.byteLength(next),
        ),
      );
      for (const cut of [1, 4096, 300_000, 1_000_000]) {
        const [cmd, ...args] = host.sshArgv(command);
        const child = spawn(cmd!, args, { stdio: ["pipe", "ignore", "ignore"] });
        child.stdin.on("error", () => {}); // the session may be gone before all is written
        child.stdin.write(next.slice(0, cut));
        await new Promise((r) => setTimeout(r, 400));
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
        await new Promise((r) => setTimeout(r, 300));
        const after = host.rootOk(`cat ${path}`);
        assert.ok(
          after === before || after === next,
          `cut at ${cut}: a partial file (${after.length} bytes)`,
        );
        assert.equal(after, before, `cut at ${cut}: the old file stays`);
        const temps = host
          .rootOk("ls -A /etc/gunicorn")
          .split("\n")
          .filter((f) => f.startsWith(".site.conf.py."));
        assert.deepEqual(temps, [], `cut at ${cut}: no temp file left`);
      }
    });

    test("a stop during a slow request lets it finish (the init waits gracefulTimeout + 5 s)", async () => {
      // 8 s: longer than Upstart's own default kill timeout (5 s), which cut such requests off.
      const started = Date.now();
      const slow = fetch(`http://127.0.0.1:${port}/?sleep=8`).then(async (r) => ({
        status: r.status,
        body: await r.text(),
        seconds: (Date.now() - started) / 1000,
      }));
      await new Promise((r) => setTimeout(r, 1500));
      const stopAt = Date.now();
      host.rootOk(init === "systemd" ? "systemctl stop site.service" : "initctl stop site");
      const stopSeconds = (Date.now() - stopAt) / 1000;
      const res = await slow;
      console.log(
        `${init}: a request of 8 s, stopped 1.5 s in: ${res.status} after ${res.seconds.toFixed(1)} s; the stop took ${stopSeconds.toFixed(1)} s`,
      );
      assert.equal(res.status, 200);
      assert.match(res.body, /^pid=\d+ version=/);
      host.rootOk(init === "systemd" ? "systemctl start site.service" : "initctl start site");
      await eventually(() => host.mainPid("site") !== undefined, "site to run again");
    });

    test("destroy stops the service and removes job, launcher and config; app and logs stay", async () => {
      const master = masterPid();
      const ran = await replay.destroy();
      assert.deepEqual(ops(ran), [
        "delete site-service-lifecycle",
        "delete site-config-write",
        "delete site-hooks-write",
        "delete site-job-write",
        "delete site-launcher-write",
        "delete site-logrotate-write",
        "delete site-logs-write",
        "delete site-manage-write",
      ]);
      assert.equal(host.root(`kill -0 ${master}`).status, 1, "the master is gone");
      assert.equal(
        host.rootOk("pgrep -u app -c gunicorn || true").trim(),
        "0",
        "no worker is left",
      );
      const exists = (p: string) => host.root(`test -e '${p}'`).status === 0;
      for (const p of [
        host.initFile("site"),
        "/usr/local/lib/gunicorn-upstart/run-site.sh",
        "/etc/gunicorn/site.conf.py",
        "/etc/gunicorn/__pycache__", // Python's cache of the config, with its app environment
        "/usr/local/bin/site-manage",
        "/var/lib/gunicorn-upstart/site.applied",
      ]) {
        assert.equal(exists(p), false, `${p} removed`);
      }
      for (const p of [
        "/home/app/site/manage.py",
        "/home/app/site/mysite/views.py",
        "/var/log/site/gunicorn.log",
      ]) {
        assert.equal(exists(p), true, `${p} kept`);
      }
      if (init === "systemd") {
        // Disabled and forgotten: systemd no longer knows the unit.
        assert.match(
          host.rootOk("systemctl show -p LoadState site.service"),
          /LoadState=not-found/,
        );
        assert.equal(
          host.root("test -e /etc/systemd/system/multi-user.target.wants/site.service").status,
          1,
        );
      }
    });

    test("another process on the bind port makes up fail at once, naming it; nothing is left running", async () => {
      const squat = `import socket, time\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(("127.0.0.1", ${port}))\ns.listen(5)\ntime.sleep(300)`;
      host.rootOk(`setsid -f /usr/bin/python3 -c '${squat}' >/dev/null 2>&1`);
      await eventually(
        () => host.root(`exec 3<>/dev/tcp/127.0.0.1/${port}`).status === 0,
        "the squatter to listen",
      );
      const started = Date.now();
      await assert.rejects(replay.up(service()), (e: unknown) => {
        assert.ok(e instanceof UpFailed, String(e));
        assert.equal(e.resource, "site-service-lifecycle");
        assert.match(
          e.stderr,
          new RegExp(`cannot start: port ${port} on this host is already held by another process`),
        );
        assert.match(e.stderr, /pid \d+, user root: \/usr\/bin\/python3 -c import socket/);
        return true;
      });
      console.log(
        `${init}: a held port failed the up after ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      assert.equal(host.mainPid("site"), undefined, "the job was not started");
      host.rootOk(`pkill -f 'python3 -c import socket' || true`);
      await replay.destroy();
    });
  });
}

// Processes beside the web on a real host: examples/django-celery (Django with SQLite in
// dataDir, a Celery worker and beat) deployed on a bare host in one `up`, with a real Redis
// broker (Debian's redis-server, started by the test on the host) and real Celery (Debian's
// python3-celery, seen by the virtualenv). A request to the web enqueues a task the worker runs;
// a release that changes the task's code is run by the restarted worker; an `up` during a 10 s
// task lets it finish; a worker killed with SIGKILL respawns; a scheduled job (a systemd timer,
// or a cron entry run by Debian's cron) runs on time and never twice at once; destroy stops
// every process and removes its files, keeping dataDir and its data. Once per init: Upstart played by the
// stand-in (test/host/initctl, which signals a job's process group on stop, as Upstart does),
// then real systemd (a Debian container booted by systemd-nspawn).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { GunicornService } from "../../components";
import { freePort } from "../helpers/freePort";
import { UpFailed, phases, recorder, type Ran } from "./replay";
import { startTestHost, type TestHost } from "./testHost";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

const EXAMPLE = resolve(__dirname, "../../examples/django-celery");
const TASKS = "jobs/tasks.py";

let host: TestHost;
let port: number;
let redisPort: number;
let engine: LifecycleEngine;
let app: string;

function setTaskVersion(v: string): void {
  const file = join(app, TASKS);
  const text = readFileSync(file, "utf8").replace(
    /^TASK_VERSION = ".*"$/m,
    `TASK_VERSION = "${v}"`,
  );
  writeFileSync(file, text);
}

function program(extra: { worker?: string } = {}) {
  return () => {
    const svc = new GunicornService(
      "jobs",
      {
        host: {
          host: "127.0.0.1",
          port: host.port,
          user: host.user,
          privateKey: pulumi.secret(host.privateKey),
        },
        init: host.init,
        job: "jobs",
        user: "jobs",
        group: "jobs",
        appSource: app,
        virtualenv: "/srv/jobs/venv",
        logFile: "/var/log/jobs/gunicorn.log",
        wsgiApp: "mysite.wsgi:application",
        bind: `127.0.0.1:${port}`,
        workers: 2,
        healthCheckPath: "/health",
        dataDir: "/var/lib/jobs",
        appEnv: {
          CELERY_BROKER_URL: `redis://127.0.0.1:${redisPort}/0`,
          BEAT_SECONDS: "1",
          SECRET_KEY: pulumi.secret("a secret key for the test"),
        },
        processes: {
          worker: {
            command: extra.worker ?? "python -m celery -A mysite worker -l info --concurrency 2",
            stopTimeout: 30,
          },
          beat: { command: "python -m celery -A mysite beat -l info", once: true },
        },
        // Every minute: who runs it, in which release, with which DATA_DIR; MARK and HOLD come
        // from a run by hand.
        schedules: {
          stamp: {
            command:
              'echo "${MARK:-scheduled} $(id -un) $(basename "$(pwd -P)") $DATA_DIR" >> "$DATA_DIR/runs"; sleep "${HOLD:-0}"',
            schedule: "* * * * *",
          },
        },
        prepareHost: { packages: ["python3", "python3-venv"] },
        pythonEnv: {
          python: "/usr/bin/python3",
          systemSitePackages: true,
          packages: ["gunicorn", "celery"],
          indexUrl: "http://127.0.0.1:9/simple", // nothing listens: any download would fail
        },
      },
      { transformations: [recorder] },
    );
    return [svc.status, svc.processStatus];
  };
}

const get = async (path: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return `${r.status} ${await r.text()}`;
};

/** Polls `path` until its answer matches, for at most `seconds`. */
async function until(
  path: string,
  want: RegExp,
  seconds = 30,
  why: () => string = () => "",
): Promise<string> {
  const deadline = Date.now() + seconds * 1000;
  let last = "";
  for (;;) {
    try {
      last = await get(path);
      if (want.test(last)) return last;
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline)
      assert.fail(`${path} did not answer ${want} in ${seconds}s: ${last}\n${why()}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const pid = (job: string) => host.mainPid(job);

/** The worker's own output, for a failure's message: Upstart's console log or the journal. */
const workerLog = () =>
  host.root(
    "tail -n 40 /var/log/upstart/jobs-worker.log 2>/dev/null || journalctl -u jobs-worker -n 40 --no-pager",
  ).stdout;

for (const init of ["upstart", "systemd"] as const) {
  describe(
    `processes beside the web on a real ${init} host (Celery and Redis)`,
    { timeout: 900_000 },
    () => {
      before(async () => {
        // Nothing but the deploy user: no app user, no virtualenv, no data directory.
        host = await startTestHost("", { init });
        port = await freePort();
        redisPort = await freePort();
        engine = lifecycleEngine(host);
        app = mkdtempSync(join(tmpdir(), "django-celery-"));
        cpSync(EXAMPLE, app, { recursive: true });
        // The broker: Debian's Redis on a port of its own (the booted Debian's own, on 6379, is
        // stopped: the container shares the machine's network).
        if (init === "systemd") host.root("systemctl disable --now redis-server");
        // Upstart hosts run cron (Debian's, here): it reads /etc/cron.d by itself.
        if (init === "upstart") host.rootOk("cron");
        host.rootOk(
          `redis-server --port ${redisPort} --bind 127.0.0.1 --daemonize yes --save '' --appendonly no --dir /tmp`,
        );
      });
      after(() => {
        host?.stop();
        if (app) rmSync(app, { recursive: true, force: true });
      });

      test("one up on a bare host: SQLite in dataDir, worker and beat started after the web; a request's task runs in the worker", async () => {
        const ran = await engine.up(program());
        const ops = phases(ran);
        const service = ops.indexOf("create jobs-service-lifecycle");
        for (const p of ["worker", "beat"]) {
          const at = ops.indexOf(`create jobs-process-${p}-lifecycle`);
          assert.ok(at > service, `${p} starts after the web: ${ops.join(", ")}`);
          assert.ok(ops.includes(`create jobs-process-${p}-job-write`), ops.join(", "));
          assert.ok(ops.includes(`create jobs-process-${p}-launcher-write`), ops.join(", "));
        }
        // No step by hand: the data directory is the app user's, and migrate made the database.
        assert.equal(host.rootOk("stat -c '%U:%G %a' /var/lib/jobs").trim(), "jobs:jobs 750");
        assert.equal(host.rootOk("stat -c '%U' /var/lib/jobs/db.sqlite3").trim(), "jobs");
        assert.equal(await get("/"), "200 hello from django-celery");
        assert.equal(await get("/enqueue/a"), "200 queued a");
        await until("/result/a", /^200 a v1 finished$/);
        // Beat fires every second; its ticks run in the worker.
        await until("/ticks", /^200 ticks=([3-9]|\d\d+)$/);
        for (const job of ["jobs-worker", "jobs-beat"]) {
          const main = pid(job);
          assert.ok(main, `${job} runs`);
          // The whole process tree is the app user's.
          assert.equal(
            host.rootOk(`ps -o user= --pid ${main} --ppid ${main} | sort -u`).trim(),
            "jobs",
            job,
          );
        }
        assert.match(
          ran.at(-1)!.stdout + ran.at(-2)!.stdout,
          /jobs-(worker|beat): start \(pid \d+\)/,
        );
      });

      test("an unchanged up changes nothing", async () => {
        assert.deepEqual(await engine.up(program()), []);
      });

      test("a release that changes the task's code: the worker restarts after the web and runs the new code", async () => {
        const before = pid("jobs-worker");
        setTaskVersion("v2");
        const ran = await engine.up(program());
        const ops = phases(ran);
        assert.ok(
          ops.indexOf("update jobs-process-worker-lifecycle") >
            ops.indexOf("update jobs-service-lifecycle"),
          ops.join(", "),
        );
        assert.notEqual(pid("jobs-worker"), before, "restarted");
        assert.equal(await get("/enqueue/b"), "200 queued b");
        await until("/result/b", /^200 b v2 finished$/);
      });

      test("an up during a 10 s task lets it finish before the worker restarts", async () => {
        assert.equal(await get("/enqueue/c?seconds=10"), "200 queued c");
        await until("/result/c", /^200 c v2 started$/);
        setTaskVersion("v3");
        await engine.up(program());
        // The stop waited for the task: it is done the moment the up is.
        assert.equal(await get("/result/c"), "200 c v2 finished");
        assert.equal(await get("/enqueue/d"), "200 queued d");
        await until("/result/d", /^200 d v3 finished$/);
      });

      test("a worker killed with SIGKILL respawns and runs tasks again", async () => {
        const main = pid("jobs-worker");
        assert.ok(main);
        // The command's own main process (Celery's), under the launcher's Python.
        const celery = host.rootOk(`pgrep -P ${main}`).trim().split("\n")[0];
        assert.match(celery ?? "", /^\d+$/);
        host.rootOk(`kill -KILL ${celery}`);
        const deadline = Date.now() + 30_000;
        while (pid("jobs-worker") === main || pid("jobs-worker") === undefined) {
          if (Date.now() > deadline) assert.fail("jobs-worker did not respawn");
          await new Promise((r) => setTimeout(r, 300));
        }
        // Nothing of the killed worker is left: its pool, reparented, went with it.
        assert.equal(host.root(`ps -o pid= -g ${celery}`).stdout.trim(), "");
        // What the broker handed the killed worker's connection before it closed is lost
        // (Celery acknowledges a task when it takes it): first the new worker runs a beat tick.
        const ticks = Number(/ticks=(\d+)/.exec(await get("/ticks"))?.[1]);
        await until("/ticks", new RegExp(`^200 ticks=(?!${ticks}$)\\d+$`), 30, workerLog);
        assert.equal(await get("/enqueue/e"), "200 queued e");
        await until("/result/e", /^200 e v3 finished$/, 30, workerLog);
      });

      test("a process that keeps dying fails the up with its log's tail, and a fixed one starts", async () => {
        await assert.rejects(
          engine.up(program({ worker: "python -m celery -A no_such_app worker" })),
          (e: unknown) => {
            assert.ok(e instanceof UpFailed, String(e));
            assert.equal(e.resource, "jobs-process-worker-lifecycle");
            assert.match(e.stderr, /jobs-worker did not keep running for 3s after its restart/);
            assert.match(e.stderr, /no_such_app/);
            assert.ok(e.stderr.length < 8000, `a bounded message: ${e.stderr.length} chars`);
            return true;
          },
        );
        assert.equal(pid("jobs-worker"), undefined, "stopped, not left respawning");
        const ran = await engine.up(program());
        assert.ok(phases(ran).includes("update jobs-process-worker-lifecycle"));
        assert.ok(pid("jobs-worker"));
        assert.equal(await get("/enqueue/f"), "200 queued f");
        await until("/result/f", /^200 f v3 finished$/);
      });

      test("the scheduled job runs on time, as the app user in the current release; never twice at once", async () => {
        const release = host.rootOk("readlink /srv/jobs/current").trim().replace("releases/", "");
        // The runs so far were of earlier releases: from now on, the current one's.
        host.rootOk("truncate -c -s 0 /var/lib/jobs/runs");
        // cron reads a new entry at the next minute and runs it at the one after at the latest.
        const deadline = Date.now() + 150_000;
        let runs = "";
        while (!/^scheduled /m.test(runs)) {
          if (Date.now() > deadline) assert.fail(`no scheduled run in 150 s: ${runs}`);
          await new Promise((r) => setTimeout(r, 1000));
          runs = host.root("cat /var/lib/jobs/runs 2>/dev/null").stdout;
        }
        assert.match(runs, new RegExp(`^scheduled jobs ${release} /var/lib/jobs$`, "m"));
        // Right after a scheduled run: two by hand, the second while the first still runs.
        const runner = "/usr/local/lib/gunicorn-upstart/run-jobs-stamp.sh";
        const out = host.rootOk(
          [
            `runuser -u jobs -- env MARK=first HOLD=4 ${runner} &`,
            "sleep 1.5",
            `runuser -u jobs -- env MARK=second ${runner}`,
            "wait",
            "cat /var/log/jobs/jobs-stamp.log 2>/dev/null || true",
          ].join("\n"),
        );
        assert.match(out, /jobs-stamp: the previous run is still going; this one is skipped/);
        runs = host.rootOk("cat /var/lib/jobs/runs");
        assert.match(runs, /^first jobs /m);
        assert.doesNotMatch(runs, /^second /m);
      });

      test("jobs-logs shows the web's and the worker's logs, by name, for root and the app user", () => {
        const worker = host.rootOk("jobs-logs -n 5000 worker");
        assert.match(worker, /celery@\S+ ready\./);
        assert.doesNotMatch(worker, /Booting worker/, "the web's log only when asked");
        const web = host.rootOk("jobs-logs -n 5 --since '1 hour ago' web");
        assert.match(web, /==> \/var\/log\/jobs\/gunicorn\.log <==/);
        // Gunicorn's own lines (the last five may be warnings, or Django's).
        assert.match(web, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[[A-Z]+\]/m);
        // The app user reads the web's log; Upstart's own logs and the journal are root's.
        const asApp = host.root("runuser -u jobs -- jobs-logs -n 5");
        assert.equal(asApp.status, 0, asApp.stderr);
        assert.match(asApp.stdout, /==> \/var\/log\/jobs\/gunicorn\.log <==/);
        if (init === "upstart") {
          assert.match(
            asApp.stderr,
            /jobs-worker\.log: jobs may not read it \(sudo jobs-logs shows it\)/,
          );
        }
      });

      test("destroy stops every process and removes its files; dataDir and its data stay", async () => {
        const ran: Ran[] = await engine.destroy();
        const ops = phases(ran);
        for (const p of ["worker", "beat"]) {
          assert.ok(
            ops.indexOf(`delete jobs-process-${p}-lifecycle`) <
              ops.indexOf("delete jobs-service-lifecycle"),
            ops.join(", "),
          );
          assert.equal(pid(`jobs-${p}`), undefined, `jobs-${p} stopped`);
          assert.notEqual(host.root(`test -e ${host.initFile(`jobs-${p}`)}`).status, 0);
          assert.notEqual(
            host.root(`test -e /usr/local/lib/gunicorn-upstart/run-jobs-${p}.sh`).status,
            0,
          );
        }
        assert.equal(host.root("pgrep -f 'celery -A mysite'").stdout.trim(), "", "no Celery left");
        // The schedule is gone: its entry or timer, and its runner.
        const schedule =
          init === "systemd" ? "/etc/systemd/system/jobs-stamp.timer" : "/etc/cron.d/jobs-stamp";
        assert.notEqual(host.root(`test -e ${schedule}`).status, 0, schedule);
        assert.notEqual(
          host.root("test -e /usr/local/lib/gunicorn-upstart/run-jobs-stamp.sh").status,
          0,
        );
        if (init === "systemd") {
          assert.notEqual(
            host.root("systemctl is-active jobs-stamp.timer").stdout.trim(),
            "active",
          );
        }
        assert.equal(host.rootOk("stat -c '%U' /var/lib/jobs/db.sqlite3").trim(), "jobs");
        const said = ran.map((r) => r.stdout + r.stderr).join("\n");
        assert.match(said, /its data directory \/var\/lib\/jobs stays/);
      });
    },
  );
}

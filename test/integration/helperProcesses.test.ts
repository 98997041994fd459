// `sudo: "helper"` with processes and scheduled jobs, on a real host under each init: the
// deploy user's sudo is narrowed to the job's helper (rendered by the same code as `npm run
// render`, installed by the test's admin), and through it the stack starts a process and turns
// a schedule on. What the deploy user may change, a process's or a schedule's command, runs as
// the app user: a command that tries to reach root cannot. What root acts on is fixed: a job
// file without the drop to the app user, and a cron entry naming root, are refused. Upstart
// played by the stand-in (test/host/initctl, which honours setuid) with Debian's cron; real
// systemd in a booted Debian container.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import type { GunicornServiceArgs } from "../../components";
import { normalizeSpec, type ServiceSettings } from "../../components/render/spec";
import {
  renderSudoersRule,
  renderSudoHelper,
  sudoersPath,
} from "../../components/render/sudoHelper";
import { renderProcessFiles } from "../../components/render/processFiles";
import { renderScheduleFiles } from "../../components/render/scheduleFiles";
import { asHelperCommand } from "../../components/render/remoteScripts";
import { shQuote } from "../../components/render/shell";
import { freePort } from "../helpers/freePort";
import { makeApp } from "./app";
import { APP_USER_SETUP, siteProgram, siteSettings } from "./site";
import { startTestHost, type TestHost } from "./testHost";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

const SETUP = `${APP_USER_SETUP}install -d -o app -g app -m 0750 /var/log/site\n`;

let host: TestHost;
let port: number;
let engine: LifecycleEngine;
const app = makeApp();

/** The worker says who it runs as, then tries to reach root. */
function command(marker: string): string {
  return `id -un > /var/lib/mysite/${marker}; touch /root/${marker} 2>/dev/null; exec sleep 600`;
}

function settings(worker: string): Partial<GunicornServiceArgs> {
  return siteSettings(port, {
    init: host.init,
    sudo: "helper",
    setuid: "app",
    setgid: "app",
    workers: 1,
    appSource: app.dir,
    appEnv: { DJANGO_SETTINGS_MODULE: "mysite.settings" },
    readWritePaths: host.init === "systemd" ? ["/var/lib/mysite"] : [],
    processes: { worker: command(worker) },
    schedules: {
      tick: { command: "id -un >> /var/lib/mysite/tick; touch /root/tick", schedule: "hourly" },
    },
  });
}

function helperFor(worker: string) {
  const { appSource, appEnv, ...rest } = settings(worker);
  void appEnv;
  const spec = normalizeSpec({ ...(rest as ServiceSettings), releases: appSource !== undefined });
  return { spec, helper: renderSudoHelper(spec) };
}

for (const init of ["upstart", "systemd"] as const) {
  describe(
    `sudo helper with processes and schedules on a real ${init} host`,
    { timeout: 600_000 },
    () => {
      before(async () => {
        host = await startTestHost(SETUP, { init });
        port = await freePort();
        engine = lifecycleEngine(host);
        app.setVersion("v1");
        if (init === "upstart") host.rootOk("cron");
        const { spec, helper } = helperFor("first");
        const rule = renderSudoersRule(spec.job, host.user);
        host.rootOk(
          [
            `printf '%s' ${shQuote(helper.content)} > /tmp/helper`,
            `install -o root -g root -m 0755 /tmp/helper ${shQuote(helper.path)}`,
            `printf '%s' ${shQuote(rule)} > /tmp/rule`,
            "visudo -cqf /tmp/rule",
            `install -o root -g root -m 0440 /tmp/rule ${shQuote(sudoersPath(spec.job))}`,
            "rm -f /etc/sudoers.d/deploy /tmp/helper /tmp/rule",
          ].join("\n"),
        );
      });
      after(() => host?.stop());

      test("up starts the process and turns the schedule on through the helper; the process is the app user", async () => {
        await engine.up(siteProgram(host, port, settings("first")));
        assert.ok(host.mainPid("site-worker"), "the worker runs");
        assert.equal(host.rootOk("cat /var/lib/mysite/first").trim(), "app");
        assert.notEqual(host.root("test -e /root/first").status, 0, "it could not reach /root");
        const schedule =
          init === "systemd" ? "systemctl is-active site-tick.timer" : "cat /etc/cron.d/site-tick";
        assert.match(
          host.rootOk(schedule),
          init === "systemd" ? /^active$/m : /^0 \* \* \* \* app /m,
        );
      });

      test("a new command (the launcher, the deploy user's) needs no new helper and still runs as app", async () => {
        await engine.up(siteProgram(host, port, settings("second")));
        assert.equal(host.rootOk("cat /var/lib/mysite/second").trim(), "app");
        assert.notEqual(host.root("test -e /root/second").status, 0);
        // The schedule's runner, run as cron or the timer would: as app.
        // Its `touch /root/tick` fails (the app user's), and so the run: status 1.
        const run = host.root("runuser -u app -- /usr/local/lib/gunicorn-upstart/run-site-tick.sh");
        assert.equal(run.status, 1, run.stdout + run.stderr);
        assert.equal(host.rootOk("cat /var/lib/mysite/tick").trim(), "app");
        assert.notEqual(host.root("test -e /root/tick").status, 0);
      });

      test("a job without the drop to the app user, and a cron entry or unit naming root, are refused", () => {
        const { spec, helper } = helperFor("first");
        const [job] = renderProcessFiles(spec, "worker", spec.processes.worker!);
        const jobPath = job!.path;
        const before = host.rootOk(`sha256sum ${jobPath}`);
        const rootJob = job!.content
          .replace(/^setuid app\n/m, "")
          .replace(/^User=app$/m, "User=root");
        const [, entry] = renderScheduleFiles(spec, "tick", spec.schedules.tick!);
        // Under Upstart the cron entry, under systemd the timer's service.
        const rootEntry = entry!.content
          .replace(/ app \//, " root /")
          .replace(/^User=app$/m, "User=root");
        for (const [op, content] of [
          ["write-process-worker-job", rootJob],
          [`write-schedule-tick-${entry!.role}`, rootEntry],
        ] as const) {
          assert.notEqual(content, op.endsWith("job") ? job!.content : entry!.content, op);
          const r = host.ssh(
            asHelperCommand(helper.path, helper.shape, op, [Buffer.byteLength(content)]),
            content,
          );
          assert.equal(r.status, 1, `${op}: ${r.stdout}${r.stderr}`);
          assert.match(r.stdout, /its content is fixed when the helper is installed/, op);
        }
        assert.equal(host.rootOk(`sha256sum ${jobPath}`), before, "the job is as it was");
        assert.equal(host.rootOk(`cat ${entry!.path}`), entry!.content, "the entry is as it was");
      });

      test("destroy stops the process and the schedule and removes their files", async () => {
        await engine.destroy();
        assert.equal(host.mainPid("site-worker"), undefined);
        assert.notEqual(host.root(`test -e ${host.initFile("site-worker")}`).status, 0);
        const schedule =
          init === "systemd" ? "/etc/systemd/system/site-tick.timer" : "/etc/cron.d/site-tick";
        assert.notEqual(host.root(`test -e ${schedule}`).status, 0);
      });
    },
  );
}

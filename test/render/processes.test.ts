// Processes and scheduled jobs beside the web, rendered: the settings' checks, the job files,
// units and timers (verified and rated by Debian's systemd-analyze, calendars read by it), the
// cron entries, the launcher, runner and lifecycle scripts (shellcheck), the manifest that
// restarts a process, the helper's operations, dataDir, and a fleet's `once`.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkProcesses, processesOnHost } from "../../components/render/processes";
import {
  processJob,
  renderProcessApplyScript,
  renderProcessFiles,
  renderProcessJob,
  renderProcessLauncher,
  renderProcessManifest,
  renderProcessStopScript,
  renderProcessUnit,
} from "../../components/render/processFiles";
import { normalizeSpec, SpecError, type ServiceSettings } from "../../components/render/spec";
import { renderSudoHelper } from "../../components/render/sudoHelper";
import { renderSystemdUnit } from "../../components/render/systemdUnit";
import { renderStopScript } from "../../components/render/lifecycleScripts";
import { renderLogrotate } from "../../components/render/logrotate";
import { renderStepProgram } from "../../components/render/remoteScripts";
import { hostSetupSpec } from "../../components/gunicornService";
import {
  checkCron,
  checkSchedules,
  onCalendar,
  schedulesOnHost,
} from "../../components/render/schedules";
import {
  renderScheduleApplyScript,
  renderScheduleFiles,
  renderScheduleRunner,
  renderScheduleStopScript,
} from "../../components/render/scheduleFiles";

const PROCESSES = {
  worker: "python -m celery -A mysite worker -l info",
  beat: { command: "python -m celery -A mysite beat", once: true, stopTimeout: 10 },
};

function spec(extra: ServiceSettings = {}) {
  return normalizeSpec({
    job: "site",
    user: "app",
    group: "app",
    releases: true,
    processes: PROCESSES,
    ...extra,
  });
}

function refused(value: unknown, field: RegExp, message: RegExp): void {
  assert.throws(
    () => checkProcesses("processes", value),
    (e: unknown) => e instanceof SpecError && field.test(e.field) && message.test(e.message),
  );
}

describe("the processes setting", () => {
  test("takes a command line or an object, applies the defaults, and sorts by name", () => {
    assert.deepEqual(checkProcesses("processes", PROCESSES), {
      beat: { command: PROCESSES.beat.command, stopTimeout: 10, once: true, settleSeconds: 3 },
      worker: { command: PROCESSES.worker, stopTimeout: 60, once: false, settleSeconds: 3 },
    });
    assert.deepEqual(Object.keys(checkProcesses("processes", { b: "x", a: "y" })), ["a", "b"]);
  });

  test("refuses what cannot be a job name, a command line or an option, naming the field", () => {
    refused(["a"], /^processes$/, /expected a map/);
    refused({ Worker: "x" }, /^processes$/, /process name "Worker"/);
    refused({ "a b": "x" }, /^processes$/, /process name/);
    refused({ w: "" }, /^processes\.w\.command$/, /command line of 1 to 2000/);
    refused({ w: "a\nb" }, /^processes\.w\.command$/, /newlines/);
    refused({ w: { command: "x", stopTimeout: 0 } }, /^processes\.w\.stopTimeout$/, /1 to 86400/);
    refused(
      { w: { command: "x", restart: true } },
      /^processes\.w\.restart$/,
      /not a process option/,
    );
  });

  test("a fleet's other hosts run all but the `once` ones", () => {
    const all = checkProcesses("processes", PROCESSES);
    assert.deepEqual(Object.keys(processesOnHost(all, true)), ["beat", "worker"]);
    assert.deepEqual(Object.keys(processesOnHost(all, false)), ["worker"]);
  });
});

describe("a process's files", () => {
  test("the Upstart job: the app user even when the web's master is root, console log, a kill timeout past the stop timeout", () => {
    // Port 80 under Upstart: the web's master is root; the process never is.
    const s = spec({ bind: "0.0.0.0:80" });
    assert.equal(s.setuid, undefined);
    const job = renderProcessJob(s, "beat", s.processes.beat!);
    assert.match(job, /^setuid app$/m);
    assert.match(job, /^setgid app$/m);
    assert.match(job, /^console log$/m);
    assert.match(job, /^kill timeout 15$/m);
    assert.match(job, /^respawn$/m);
    assert.match(job, /^exec \/usr\/local\/lib\/gunicorn-upstart\/run-site-beat\.sh$/m);
    assert.match(job, /^start on runlevel \[2345\]$/m);
  });

  test("the systemd unit: after the web's, the app user, KillMode=mixed, the web's sandbox without its port capability", () => {
    const s = spec({ init: "systemd", bind: "0.0.0.0:80", dataDir: "/var/lib/site" });
    const unit = renderProcessUnit(s, "worker", s.processes.worker!);
    assert.match(unit, /^After=network\.target site\.service$/m);
    assert.match(unit, /^User=app$/m);
    assert.match(unit, /^KillMode=mixed$/m);
    assert.match(unit, /^TimeoutStopSec=65$/m);
    assert.match(unit, /^ReadWritePaths=.*-\/var\/lib\/site/m);
    assert.match(unit, /^CapabilityBoundingSet=$/m);
    assert.doesNotMatch(unit, /AmbientCapabilities/);
    // The web unit binds port 80 with its one capability.
    assert.match(renderSystemdUnit(s), /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
  });

  test("the launcher runs the command in the project with the config's environment and the stop timeout", () => {
    const s = spec();
    const launcher = renderProcessLauncher(s, "worker", s.processes.worker!);
    assert.match(launcher, /^PROJECTDIR='\/srv\/site\/current'$/m);
    assert.match(launcher, /^STOP_TIMEOUT=60$/m);
    assert.match(launcher, /^COMMAND='python -m celery -A mysite worker -l info'$/m);
    assert.match(launcher, /^exec "\$VIRTUALENV\/bin\/python" -c "\$LOADER" "\$CONFIG"/m);
  });

  test("the job file is root's and fixed under the helper; the launcher is root's and the deploy user's to change", () => {
    const s = spec();
    const [job, launcher] = renderProcessFiles(s, "worker", s.processes.worker!);
    assert.deepEqual(
      [job!.path, job!.owner, job!.mode, job!.helper],
      ["/etc/init/site-worker.conf", "root", "0644", "fixed"],
    );
    assert.deepEqual(
      [launcher!.path, launcher!.owner, launcher!.mode, launcher!.helper],
      ["/usr/local/lib/gunicorn-upstart/run-site-worker.sh", "root", "0755", "deploy"],
    );
    assert.equal(processJob(s, "worker"), "site-worker");
  });

  test("every process script passes bash -n and shellcheck, alone and as a loaded program", () => {
    for (const init of ["upstart", "systemd"] as const) {
      const s = spec({ init, projectDir: undefined });
      const scripts = {
        launcher: renderProcessLauncher(s, "worker", s.processes.worker!),
        apply: renderProcessApplyScript(s, "worker", s.processes.worker!),
        stop: renderProcessStopScript(s, "worker"),
      };
      for (const [label, script] of Object.entries(scripts)) {
        for (const text of [script, renderStepProgram({ run: { label, script } })]) {
          const r = spawnSync("shellcheck", ["-s", "bash", "-e", "SC2016,SC1003", "-"], {
            input: text,
            encoding: "utf8",
          });
          assert.equal(r.status, 0, `${init} ${label}: ${r.stdout}`);
        }
      }
    }
  });
});

describe("systemd-analyze on a process unit", () => {
  const dir = mkdtempSync(join(tmpdir(), "process-units-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("verify passes without a warning, and the sandbox rates OK or better", () => {
    const s = spec({ init: "systemd", launcherPath: join(dir, "run-site.sh") });
    const [unit, launcher] = renderProcessFiles(s, "worker", s.processes.worker!);
    writeFileSync(launcher!.path, launcher!.content, { mode: 0o755 });
    const file = join(dir, "site-worker.service");
    writeFileSync(file, unit!.content);
    const verify = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
    assert.equal(verify.status, 0, verify.stderr);
    assert.doesNotMatch(verify.stderr, new RegExp(file.replace(/[.]/g, "\\.")));
    const security = spawnSync("systemd-analyze", ["security", "--offline=yes", file], {
      encoding: "utf8",
    });
    const m = /Overall exposure level for .*: (\d+\.\d) (\w+)/.exec(security.stdout);
    assert.ok(m, security.stdout + security.stderr);
    assert.ok(Number(m[1]) < 3.0, m[0]);
  });
});

describe("what restarts a process", () => {
  const base = { job: "j", launcher: "l", env: { A: "1", SECRET: "s3cret" }, release: "r1" };
  test("its job, launcher, environment, release or virtualenv; nothing else", () => {
    const m = renderProcessManifest(base);
    assert.equal(renderProcessManifest({ ...base }), m);
    for (const changed of [
      { job: "j2" },
      { launcher: "l2" },
      { env: { A: "2", SECRET: "s3cret" } },
      { release: "r2" },
      { virtualenv: "v" },
    ]) {
      assert.notEqual(renderProcessManifest({ ...base, ...changed }), m, JSON.stringify(changed));
    }
  });

  test("the manifest holds hashes and ids, never the environment's values", () => {
    assert.doesNotMatch(renderProcessManifest(base), /s3cret|SECRET/);
  });
});

describe("under sudo helper", () => {
  test("each process has its fixed job write, its launcher write, its apply and its stop", () => {
    const s = spec({ sudo: "helper", setuid: "app" });
    const helper = renderSudoHelper(s);
    for (const p of ["worker", "beat"]) {
      for (const op of [
        `write-process-${p}-job`,
        `delete-process-${p}-job`,
        `write-process-${p}-launcher`,
        `apply-process-${p}`,
        `stop-process-${p}`,
      ]) {
        assert.ok(helper.operations.includes(op), op);
      }
    }
    // The job file is accepted only as rendered at install: its sha256 is in the helper.
    const job = renderProcessFiles(s, "worker", s.processes.worker!)[0]!;
    const sha = createHash("sha256").update(job.content, "utf8").digest("hex");
    assert.ok(helper.content.includes(sha), "the worker's job is fixed by its hash");
    // A new command is a new helper shape: the admin installs it again.
    const other = renderSudoHelper(
      spec({ sudo: "helper", setuid: "app", processes: { worker: "python -m rq worker" } }),
    );
    assert.notEqual(other.shape, helper.shape);
  });
});

describe("dataDir", () => {
  test("is made by the host preparation as the app's, 0750, and mediaRoot defaults inside it", () => {
    const s = spec({ dataDir: "/var/lib/site" });
    assert.equal(s.mediaRoot, "/var/lib/site/media");
    const dirs = hostSetupSpec(s, {}).directories;
    const data = dirs.findIndex((d) => d.path === "/var/lib/site");
    const media = dirs.findIndex((d) => d.path === "/var/lib/site/media");
    assert.deepEqual(dirs[data], {
      path: "/var/lib/site",
      owner: "app",
      group: "app",
      mode: "0750",
    });
    assert.ok(data < media, "the data directory before the uploads in it");
    // With nginx serving the uploads in it, nginx may pass through it (and only that).
    const served = hostSetupSpec(spec({ dataDir: "/var/lib/site", nginx: true }), {});
    assert.equal(served.directories.find((d) => d.path === "/var/lib/site")?.mode, "0751");
  });

  test("is the app's DATA_DIR, writable under the sandbox, and said to stay on destroy", () => {
    const s = spec({ init: "systemd", dataDir: "/var/lib/site" });
    assert.match(renderSystemdUnit(s), /^ReadWritePaths=.*-\/var\/lib\/site( |$)/m);
    assert.match(renderStopScript(s), /^DATA_DIR='\/var\/lib\/site'$/m);
  });
});

describe("the schedules setting", () => {
  test("takes named schedules and cron fields; once by default", () => {
    assert.deepEqual(
      checkSchedules("schedules", {
        clear: { command: "python manage.py clearsessions", schedule: "daily" },
        report: { command: "python manage.py report", schedule: "30 3 * * 1-5", once: false },
      }),
      {
        clear: { command: "python manage.py clearsessions", schedule: "0 0 * * *", once: true },
        report: { command: "python manage.py report", schedule: "30 3 * * 1-5", once: false },
      },
    );
  });

  test("refuses a schedule cron or systemd would read differently, naming the field", () => {
    for (const [schedule, message] of [
      ["now", /hourly, daily, weekly, monthly or five cron fields/],
      ["* * * *", /five cron fields/],
      ["60 * * * *", /minute field "60"/],
      ["0-10/2 * * * *", /minute field/],
      ["0 0 1 * 1", /not both/],
      ["0 0 * * */2", /day of week field/],
    ] as const) {
      assert.throws(
        () => checkSchedules("schedules", { x: { command: "true", schedule } }),
        (e: unknown) =>
          e instanceof SpecError && e.field === "schedules.x.schedule" && message.test(e.message),
        schedule,
      );
    }
  });

  test("each schedule is the same time for systemd, as systemd-analyze calendar reads it", () => {
    for (const [cron, normalized] of [
      ["hourly", "*-*-* *:00:00"],
      ["daily", "*-*-* 00:00:00"],
      ["weekly", "Mon *-*-* 00:00:00"],
      ["monthly", "*-*-01 00:00:00"],
      ["*/15 * * * *", "*-*-* *:00/15:00"],
      ["30 3 * * 1-5", "Mon..Fri *-*-* 03:30:00"],
      ["0 0 * * 0,7", "Sun *-*-* 00:00:00"],
      ["0 */2 * * 5-7", "Fri..Sun *-*-* 00/2:00:00"],
      ["5 4 * 1-3 *", "*-01..03-* 04:05:00"],
    ] as const) {
      const calendar = onCalendar(checkCron("s", cron));
      const r = spawnSync("systemd-analyze", ["calendar", calendar], { encoding: "utf8" });
      assert.equal(r.status, 0, `${cron}: ${calendar}: ${r.stderr}`);
      assert.equal(/Normalized form: (.*)/.exec(r.stdout)?.[1], normalized, cron);
    }
  });
});

describe("a scheduled job's files", () => {
  const schedules = { clear: { command: "python manage.py clearsessions", schedule: "daily" } };

  test("Upstart hosts: a cron entry naming the app user and the runner; the runner logs beside Gunicorn", () => {
    const s = spec({ schedules, job: "my.site" });
    const [runner, cron] = renderScheduleFiles(s, "clear", s.schedules.clear!);
    assert.equal(cron!.path, "/etc/cron.d/my_site-clear", "no '.': cron would skip the file");
    assert.equal(cron!.helper, "fixed");
    assert.match(
      cron!.content,
      /^0 0 \* \* \* app \/usr\/local\/lib\/gunicorn-upstart\/run-my\.site-clear\.sh$/m,
    );
    assert.match(runner!.content, /^LOG='\/home\/user\/logs\/my\.site-clear\.log'$/m);
    assert.equal(runner!.helper, "deploy");
    // Rotated with Gunicorn's logs.
    assert.match(renderLogrotate(s), /^\S+ \/home\/user\/logs\/my\.site-clear\.log \{$/m);
  });

  test("systemd hosts: a oneshot service as the app user and its timer; both verify", () => {
    const dir = mkdtempSync(join(tmpdir(), "schedule-units-"));
    try {
      const s = spec({ schedules, init: "systemd", launcherPath: join(dir, "run-site.sh") });
      const files = renderScheduleFiles(s, "clear", s.schedules.clear!);
      assert.deepEqual(
        files.map((f) => f.role),
        ["runner", "service", "timer"],
      );
      const [runner, service, timer] = files;
      assert.match(service!.content, /^Type=oneshot$/m);
      assert.match(service!.content, /^User=app$/m);
      assert.match(timer!.content, /^OnCalendar=\*-\*-\* 00:00:00$/m);
      assert.match(timer!.content, /^Unit=site-clear\.service$/m);
      assert.match(runner!.content, /^LOG=''$/m, "the journal has it");
      writeFileSync(runner!.path, runner!.content, { mode: 0o755 });
      for (const f of [service!, timer!]) {
        writeFileSync(join(dir, f.path.split("/").pop()!), f.content);
      }
      const r = spawnSync(
        "systemd-analyze",
        ["verify", join(dir, "site-clear.service"), join(dir, "site-clear.timer")],
        { encoding: "utf8", cwd: dir },
      );
      assert.equal(r.status, 0, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("its scripts pass shellcheck; under the helper the entry and units are fixed by hash", () => {
    for (const init of ["upstart", "systemd"] as const) {
      const s = spec({ schedules, init, sudo: "helper", setuid: "app" });
      for (const script of [
        renderScheduleRunner(s, "clear", s.schedules.clear!),
        renderScheduleApplyScript(s, "clear"),
        renderScheduleStopScript(s, "clear"),
      ]) {
        const r = spawnSync("shellcheck", ["-s", "bash", "-e", "SC2016,SC1003", "-"], {
          input: script,
          encoding: "utf8",
        });
        assert.equal(r.status, 0, r.stdout);
      }
      const helper = renderSudoHelper(s);
      for (const f of renderScheduleFiles(s, "clear", s.schedules.clear!)) {
        assert.ok(helper.operations.includes(`write-schedule-clear-${f.role}`), f.role);
        const sha = createHash("sha256").update(f.content, "utf8").digest("hex");
        assert.equal(helper.content.includes(sha), f.helper === "fixed", `${init} ${f.role}`);
      }
      assert.ok(helper.operations.includes("apply-schedule-clear"));
    }
  });

  test("a fleet's other hosts run only the schedules with once: false", () => {
    const all = checkSchedules("schedules", {
      a: { command: "x", schedule: "daily" },
      b: { command: "y", schedule: "daily", once: false },
    });
    assert.deepEqual(Object.keys(schedulesOnHost(all, false)), ["b"]);
    assert.deepEqual(Object.keys(schedulesOnHost(all, true)), ["a", "b"]);
  });
});

describe("what cannot go together", () => {
  const refusedSpec = (settings: ServiceSettings, field: string, message: RegExp) =>
    assert.throws(
      () => normalizeSpec(settings),
      (e: unknown) => e instanceof SpecError && e.field === field && message.test(e.message),
      JSON.stringify(settings),
    );

  test("under sudo helper, a root app user or group (the deploy user's launchers would run as root)", () => {
    refusedSpec({ sudo: "helper", setuid: "www-data", user: "root" }, "user", /non-root/);
    refusedSpec({ sudo: "helper", setuid: "app", user: "app", group: "root" }, "group", /non-root/);
  });

  test("a process and a scheduled job of one name (both <job>-<name> on the host)", () => {
    refusedSpec(
      { processes: { clean: "x" }, schedules: { clean: { command: "y", schedule: "daily" } } },
      "schedules",
      /"clean" is a process's name too/,
    );
  });

  test("a '%' in the launcher's directory with schedules (cron ends a command there)", () => {
    refusedSpec(
      {
        launcherPath: "/opt/ops%team/run.sh",
        schedules: { a: { command: "y", schedule: "daily" } },
      },
      "launcherPath",
      /'%'/,
    );
  });

  test("a data directory that is, or holds, or is inside a root's directory", () => {
    for (const dataDir of ["/var/lib/gunicorn-upstart", "/var/lib", "/srv/site/data", "/etc"]) {
      refusedSpec(
        { job: "site", releases: true, dataDir },
        "dataDir",
        /overlaps .* which is root's/,
      );
    }
    assert.equal(
      normalizeSpec({ job: "site", releases: true, dataDir: "/var/lib/site" }).dataDir,
      "/var/lib/site",
    );
  });
});

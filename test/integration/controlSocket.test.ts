// Gunicorn's control socket under the rendered files, with real Gunicorns: Debian's 20.1
// (/usr/bin/python3's) and PyPI's current one (the wheel scripts/test-deps.sh downloads).
// Gunicorn 25.1+ opens a control socket for gunicornc, by default in $HOME/.gunicorn, which the
// systemd sandbox makes read-only: an ERROR line at every start and every worker spawned after
// it. Each run starts Gunicorn on an app of one file, waits until it serves, reloads it (a HUP:
// new workers, and Gunicorn restarts its control server around every fork), waits for the new
// workers, stops it and reads its log: no ERROR line, and the socket where the config
// (components/render/gunicornConfig.ts) puts it: in the unit's runtime directory under systemd,
// off under Upstart.
// - On this machine: the Gunicorn config alone, HOME a path where nothing can be made (under a
//   regular file: these tests may run as root, who could write anywhere else), XDG_RUNTIME_DIR
//   unset, and $RUNTIME_DIRECTORY set as systemd sets it (or not, as under Upstart).
// - On the real systemd host (test/host/start-systemd-host.sh): the unit, launcher and config
//   as rendered, in the unit's real sandbox, started, reloaded and stopped by systemctl.
// Bound to 127.0.0.1; every wait is bounded.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { normalizeSpec, type Init } from "../../components/render/spec";
import { renderGunicornConfig } from "../../components/render/gunicornConfig";
import { writeHooksBeside } from "../helpers/hooks";
import { renderServiceFiles } from "../../components/render/hostFiles";
import { runtimeDirectory } from "../../components/render/systemdUnit";
import {
  CURRENT_GUNICORN_VENV,
  currentGunicornSetup,
  currentGunicornWheel,
  unpackCurrentGunicorn,
} from "../helpers/currentGunicorn";
import { freePort } from "../helpers/freePort";
import { APP_USER_SETUP } from "./site";
import { startTestHost, type TestHost } from "./testHost";

const WORKERS = 2;
/** Far beyond a start, a reload or a stop of this app. */
const BOUND_MS = 30_000;
const APP = [
  "def application(environ, start_response):",
  '    start_response("200 OK", [("Content-Type", "text/plain")])',
  '    return [b"ok"]',
  "",
].join("\n");
/** gunicornc (the current Gunicorn's `gunicorn.ctl.cli`): `python -c GUNICORNC -s SOCKET ...`. */
const GUNICORNC = "import sys; from gunicorn.ctl.cli import main; sys.exit(main())";
const currentVersion = currentGunicornWheel().version;

async function until(
  what: string,
  check: () => Promise<boolean>,
  alive: () => boolean,
  boundMs = BOUND_MS,
) {
  const deadline = Date.now() + boundMs;
  while (!(await check())) {
    if (!alive()) throw new Error(`Gunicorn exited, not ${what}`);
    if (Date.now() > deadline) throw new Error(`not ${what} after ${boundMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function serves(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/`)).ok;
  } catch {
    return false;
  }
}

/**
 * The reload is done: the warm reload's new workers are ready (components/render/warmReload.ts;
 * a stop before that abandons it, an ERROR line of its own), or, with a plain HUP, started.
 */
function reloaded(log: string, warm: boolean): boolean {
  if (warm) return log.includes(`gunicorn-upstart: ${WORKERS} new workers ready in`);
  return (log.match(/Booting worker with pid/g) ?? []).length >= 2 * WORKERS;
}

function errorLines(log: string): string[] {
  return log.split("\n").filter((l) => /\[ERROR\]|Traceback/.test(l));
}

/** The log's last lines for a message, without the debug level's dump of the configuration. */
function tail(log: string): string {
  return log
    .split("\n")
    .filter((l) => !/^ {2}\w+: /.test(l))
    .slice(-40)
    .join("\n");
}

/**
 * Waits (5 s at most) for the control socket: Gunicorn opens it in a thread of the master once
 * it has spawned its workers, which may serve first, and closes and reopens it around every fork.
 * A socket that never comes is an ERROR line in the log, which the tests report first.
 */
async function socketUp(exists: () => boolean, alive: () => boolean): Promise<void> {
  await until("on the control socket", async () => exists(), alive, 5_000).catch(() => undefined);
}

/** What gunicornc answered to "show workers": the worker count, or the failure. */
function workerCount(status: number | null, out: string): number | string {
  if (status !== 0) return `gunicornc failed (${status}): ${out}`;
  return (JSON.parse(out) as { count: number }).count;
}

describe("on this machine, HOME unwritable", () => {
  let dir = "";
  let currentLib = "";
  let home = "";

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "control-socket-"));
    currentLib = unpackCurrentGunicorn(join(dir, "gunicorn-current"));
    writeFileSync(join(dir, "tinyapp.py"), APP);
    writeFileSync(join(dir, "a-file"), "");
    home = join(dir, "a-file", "home");
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  /** gunicornc on `socket`: the worker count it reports, or its failure. */
  function gunicornc(socket: string): number | string {
    const r = spawnSync(
      "/usr/bin/python3",
      ["-c", GUNICORNC, "-s", socket, "-j", "-c", "show workers"],
      {
        env: { ...process.env, PYTHONPATH: currentLib },
        encoding: "utf8",
        timeout: BOUND_MS,
      },
    );
    return workerCount(r.status, r.stdout + r.stderr);
  }

  /** The rendered config of a service on `port`, for `init`, at debug level. */
  function config(name: string, init: Init, port: number): string {
    const path = join(dir, `${name}.conf.py`);
    const spec = normalizeSpec({
      init,
      job: name,
      workers: WORKERS,
      bind: `127.0.0.1:${port}`,
      projectDir: dir,
      logFile: join(dir, `${name}.log`),
      logLevel: "debug",
    });
    writeFileSync(path, renderGunicornConfig(spec, {}));
    writeHooksBeside(path, spec);
    return path;
  }

  /**
   * Starts Gunicorn (the current one when `current`) with the config at `conf`, and
   * `runtimeDir` as $RUNTIME_DIRECTORY when given; serves, reloads (`warm`: the config has the
   * warm reload's hooks), stops. The log, the exit status, and what gunicornc reported before
   * and after the reload (with a runtime directory).
   */
  async function run(
    conf: string,
    port: number,
    o: { current: boolean; runtimeDir?: string; warm: boolean },
  ) {
    const { current, runtimeDir, warm } = o;
    const logFile = conf.replace(/\.conf\.py$/, ".log");
    writeFileSync(logFile, "");
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home,
      PYTHONPATH: current ? currentLib : "",
    };
    delete env.XDG_RUNTIME_DIR;
    delete env.RUNTIME_DIRECTORY;
    if (runtimeDir !== undefined) env.RUNTIME_DIRECTORY = runtimeDir;
    const child = spawn("/usr/bin/python3", ["-m", "gunicorn", "-c", conf, "tinyapp:application"], {
      cwd: dir,
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const alive = () => child.exitCode === null && child.signalCode === null;
    const counts: (number | string)[] = [];
    const socket = runtimeDir !== undefined ? join(runtimeDir, "gunicorn.ctl") : undefined;
    try {
      const query = async () => {
        if (!current || socket === undefined) return;
        await socketUp(() => existsSync(socket), alive);
        counts.push(gunicornc(socket));
      };
      await until("serving", () => serves(port), alive);
      await query();
      child.kill("SIGHUP");
      const newWorkers = async () => reloaded(readFileSync(logFile, "utf8"), warm);
      await until("reloaded", newWorkers, alive);
      await until("serving after the reload", () => serves(port), alive);
      await query();
    } finally {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), BOUND_MS);
      await exited;
      clearTimeout(timer);
    }
    return { status: child.exitCode, log: readFileSync(logFile, "utf8") + stderr, counts };
  }

  for (const current of [false, true]) {
    const label = current ? `PyPI's Gunicorn ${currentVersion}` : "Debian's Gunicorn 20.1";
    const name = current ? "current" : "debian";

    test(`${label}, the systemd unit's config with a runtime directory: a start, a reload and a stop log no ERROR${current ? "; gunicornc answers on the socket there" : ""}`, async () => {
      const port = await freePort();
      const runtimeDir = join(dir, `run-${name}`);
      mkdirSync(runtimeDir);
      const r = await run(config(`systemd-${name}`, "systemd", port), port, {
        current,
        runtimeDir,
        warm: true,
      });
      assert.deepEqual(errorLines(r.log), [], tail(r.log));
      assert.equal(r.status, 0, tail(r.log));
      const socket = join(runtimeDir, "gunicorn.ctl");
      if (current) {
        assert.ok(r.log.includes(`Control socket listening at ${socket}`), tail(r.log));
        assert.deepEqual(r.counts, [WORKERS, WORKERS], "gunicornc, before and after the reload");
        assert.ok(!existsSync(socket), "the stop removes the socket");
      } else {
        assert.doesNotMatch(r.log, /[Cc]ontrol socket/);
      }
      assert.ok(!existsSync(home));
    });

    test(`${label}, the Upstart job's config (no runtime directory): the same, the socket off`, async () => {
      const port = await freePort();
      const r = await run(config(`upstart-${name}`, "upstart", port), port, {
        current,
        warm: true,
      });
      assert.deepEqual(errorLines(r.log), [], tail(r.log));
      assert.equal(r.status, 0, tail(r.log));
      if (current) assert.match(r.log, /\[DEBUG\] Control socket disabled/);
    });
  }

  // The control: without the config's lines, Gunicorn's default socket in this HOME fails, so
  // the tests above see the config's work.
  test(`${currentVersion}, without the config's control socket lines: the same run logs Gunicorn's ERROR`, async () => {
    const port = await freePort();
    const path = join(dir, "bare.conf.py");
    writeFileSync(
      path,
      [
        `workers = ${WORKERS}`,
        `bind = ["127.0.0.1:${port}"]`,
        `errorlog = ${JSON.stringify(join(dir, "bare.log"))}`,
        "capture_output = True",
        "",
      ].join("\n"),
    );
    const r = await run(path, port, { current: true, warm: false });
    assert.match(r.log, /\[ERROR\] Control server error: \[Errno 20\] Not a directory/);
  });
});

describe("on the real systemd host, in the unit's sandbox", { timeout: 600_000 }, () => {
  let host: TestHost;
  before(async () => {
    const app = Buffer.from(APP).toString("base64");
    host = await startTestHost(
      APP_USER_SETUP +
        currentGunicornSetup(CURRENT_GUNICORN_VENV) +
        `install -d -m 0755 /srv/tiny\necho ${app} | base64 -d > /srv/tiny/tinyapp.py\n`,
      { init: "systemd" },
    );
  });
  after(() => host?.stop());

  for (const current of [false, true]) {
    const label = current ? `PyPI's Gunicorn ${currentVersion}` : "Debian's Gunicorn 20.1";
    const venv = current ? CURRENT_GUNICORN_VENV : "/home/app/venv";
    const job = current ? "ctl-current" : "ctl-debian";

    test(`${label}: systemctl start, reload and stop log no ERROR${current ? `; gunicornc answers on /run/gunicorn-upstart/${job}/gunicorn.ctl` : ""}`, async () => {
      const port = await freePort();
      // The virtualenv is in /home: ProtectHome=read-only, so the app user's home is read-only.
      const spec = normalizeSpec({
        init: "systemd",
        job,
        user: "app",
        group: "app",
        virtualenv: venv,
        projectDir: "/srv/tiny",
        logFile: `/var/log/${job}/gunicorn.log`,
        bind: `127.0.0.1:${port}`,
        wsgiApp: "tinyapp:application",
        workers: WORKERS,
      });
      const install = Object.values(renderServiceFiles(spec, {})).map((f) =>
        [
          `mkdir -p "$(dirname ${f.path})"`,
          `echo ${Buffer.from(f.content).toString("base64")} | base64 -d > ${f.path}`,
          `chown ${f.owner}:${f.group} ${f.path}`,
          `chmod ${f.mode} ${f.path}`,
        ].join("\n"),
      );
      host.rootOk(
        [
          "set -e",
          ...install,
          `install -d -o app -g app /var/log/${job}`,
          "systemctl daemon-reload",
          `systemctl start ${job}`,
        ].join("\n"),
      );
      const log = () => host.rootOk(`cat /var/log/${job}/gunicorn.log`);
      const alive = () => host.mainPid(job) !== undefined;
      const socket = `${runtimeDirectory(spec)}/gunicorn.ctl`;
      const gunicornc = async () => {
        await socketUp(() => host.root(`test -S ${socket}`).status === 0, alive);
        const r = host.root(
          `runuser -u app -- ${venv}/bin/python -c '${GUNICORNC}' -s ${socket} -j -c 'show workers'`,
        );
        return workerCount(r.status, r.stdout + r.stderr);
      };
      // Recorded while it runs, asserted after the log's ERROR lines (which say why first).
      const counts: (number | string)[] = [];
      let stat = "";
      try {
        await until("serving", () => serves(port), alive);
        if (current) counts.push(await gunicornc());
        stat = host.root(`stat -c '%F %U %a' ${socket}`).stdout.trim();
        host.rootOk(`systemctl reload ${job}`);
        await until("reloaded", async () => reloaded(log(), true), alive);
        await until("serving after the reload", () => serves(port), alive);
        if (current) counts.push(await gunicornc());
      } finally {
        host.root(`systemctl stop ${job}`);
      }
      const text = log();
      assert.deepEqual(errorLines(text), [], tail(text));
      if (current) {
        assert.ok(text.includes(`Control socket listening at ${socket}`), tail(text));
        assert.equal(stat, "socket app 600", "the socket: the app user's only");
        assert.deepEqual(counts, [WORKERS, WORKERS], "gunicornc, before and after the reload");
      } else {
        assert.doesNotMatch(text, /[Cc]ontrol socket/);
      }
      assert.equal(
        host.rootOk(`test -e ${runtimeDirectory(spec)} || echo gone`).trim(),
        "gone",
        "systemd removes the runtime directory at stop",
      );
    });
  }
});

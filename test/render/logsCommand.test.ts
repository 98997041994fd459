// `<job>-logs`, executed: the rendered command run by bash on log files made here (the web's
// and a scheduled job's, as on an Upstart host), with -n, --since, names, -f, and its refusals.
// On real hosts, test/integration/processes.test.ts reads a worker's and the web's logs with it.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { normalizeSpec } from "../../components/render/spec";
import { logsCommandPath, renderLogsCommand } from "../../components/render/logsCommand";
import { scheduleLogPath } from "../../components/render/scheduleFiles";

let dir: string;
let command: string;

function run(...args: string[]) {
  return spawnSync("bash", [command, ...args], { encoding: "utf8", timeout: 10_000 });
}

describe("the logs command", () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "logs-"));
    const spec = normalizeSpec({
      job: "site",
      logFile: join(dir, "gunicorn.log"),
      accessLog: join(dir, "access.log"),
      schedules: { clear: { command: "python manage.py clearsessions", schedule: "daily" } },
    });
    assert.equal(scheduleLogPath(spec, "clear"), join(dir, "site-clear.log"));
    assert.equal(logsCommandPath(spec), "/usr/local/bin/site-logs");
    command = join(dir, "site-logs");
    writeFileSync(command, renderLogsCommand(spec), { mode: 0o755 });
    writeFileSync(
      join(dir, "gunicorn.log"),
      [
        "[2026-12-06 09:00:00 +0000] [10] [INFO] Starting gunicorn 20.1.0",
        "[2026-12-06 10:00:00 +0000] [10] [ERROR] Exception in worker",
        "Traceback (most recent call last):",
        '  File "x.py", line 1',
        "[2026-12-06 11:00:00 +0000] [10] [INFO] Handling signal: hup",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "access.log"), '127.0.0.1 - - "GET / HTTP/1.1" 200\n');
    writeFileSync(
      join(dir, "site-clear.log"),
      "2026-12-06 03:00:00 site-clear: run starts\n2026-12-06 03:00:01 site-clear: run ends, status 0\n",
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("all by default, each file under its name, the last -n lines", () => {
    const r = run("-n", "1");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        `==> ${join(dir, "gunicorn.log")} <==`,
        "[2026-12-06 11:00:00 +0000] [10] [INFO] Handling signal: hup",
        `==> ${join(dir, "access.log")} <==`,
        '127.0.0.1 - - "GET / HTTP/1.1" 200',
        `==> ${join(dir, "site-clear.log")} <==`,
        "2026-12-06 03:00:01 site-clear: run ends, status 0",
        "",
      ].join("\n"),
    );
  });

  test("by name, and --since keeps a traceback with the line it belongs to", () => {
    const r = run("--since", "2026-12-06 09:30", "web");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\[ERROR\] Exception in worker\nTraceback[^\n]*\n {2}File "x\.py"/);
    assert.doesNotMatch(r.stdout, /Starting gunicorn/);
    assert.doesNotMatch(r.stdout, /site-clear/);
    const clear = run("clear");
    assert.match(clear.stdout, /site-clear: run ends, status 0/);
    assert.doesNotMatch(clear.stdout, /gunicorn/);
  });

  test("refuses an unknown name, option or time, saying what there is", () => {
    const name = run("nope");
    assert.equal(name.status, 2);
    assert.match(name.stderr, /no nope here\nusage: site-logs .*names: web {2}clear/);
    assert.equal(run("--bogus").status, 2);
    const since = run("--since", "not a time");
    assert.equal(since.status, 2);
    assert.match(since.stderr, /not a time date\(1\) reads/);
    assert.equal(run("-n", "x").status, 2);
  });

  test("-f follows the files: a line written later shows, and it stops when told", async () => {
    const child = spawn("bash", [command, "-f", "-n", "0", "web"], { stdio: "pipe" });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise((r) => setTimeout(r, 1000));
    appendFileSync(join(dir, "gunicorn.log"), "[2026-12-06 12:00:00 +0000] [10] [INFO] later\n");
    const deadline = Date.now() + 5000;
    while (!/later/.test(out) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGTERM");
    await new Promise((r) => child.on("close", r));
    assert.match(out, /\[INFO\] later/);
    assert.doesNotMatch(out, /Handling signal/, "-n 0: nothing from before");
  });
});

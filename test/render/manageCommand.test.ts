// The manage command (`<job>-manage`), executed: manage.py runs in the project with the
// virtualenv's Python, the app environment from the Gunicorn config, the caller's arguments and
// standard input; anyone but root or the app user is refused.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderManageCommand } from "../../components/render/manageCommand";
import { renderGunicornConfig } from "../../components/render/gunicornConfig";
import { normalizeSpec } from "../../components/render/spec";
import { writeHooksBeside } from "../helpers/hooks";

function setUp() {
  const dir = mkdtempSync(join(tmpdir(), "manage-"));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, "project"));
  mkdirSync(join(dir, "venv/bin"), { recursive: true });
  symlinkSync("/usr/bin/python3", join(dir, "venv/bin/python"));
  writeFileSync(
    join(dir, "project/manage.py"),
    "import os, sys\nprint(os.environ['GREETING'], os.environ['SECRET_KEY'], sys.argv[1:], sys.stdin.read().strip(), os.getcwd())\n",
  );
  // The app user here is whoever runs the test (root in CI): the command runs manage.py as is.
  const user = spawnSync("id", ["-un"], { encoding: "utf8" }).stdout.trim();
  const spec = normalizeSpec({
    job: "site",
    user,
    group: user,
    projectDir: join(dir, "project"),
    virtualenv: join(dir, "venv"),
    gunicornConfigPath: join(dir, "site.conf.py"),
    workers: "auto",
  });
  writeFileSync(
    spec.gunicornConfigPath,
    renderGunicornConfig(spec, { GREETING: "hello there", SECRET_KEY: "a=b'c\"$d" }),
  );
  writeHooksBeside(spec.gunicornConfigPath, spec);
  const script = join(dir, "site-manage");
  writeFileSync(script, renderManageCommand(spec), { mode: 0o755 });
  return { dir, script };
}

describe("the manage command", () => {
  test("runs manage.py with the app environment, the arguments and standard input, in the project", () => {
    const { dir, script } = setUp();
    const r = spawnSync(script, ["check", "--deploy", "it's"], {
      input: "typed at the prompt\n",
      encoding: "utf8",
      cwd: "/",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout.trim(),
      `hello there a=b'c"$d ['check', '--deploy', "it's"] typed at the prompt ${join(dir, "project")}`,
    );
  });

  test("refuses anyone but root and the app user", () => {
    const { script } = setUp();
    const r = spawnSync("runuser", ["-u", "nobody", "--", script, "check"], { encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /site-manage: run it as root \(sudo\) or as /);
  });
});

// Seed parity: with the recipe's own values, the job has exactly the recipe's stanzas and
// values, and the launcher sets and uses the recipe's settings in the recipe's order of effect
// (activate, cd, create log dir, exec with stderr to the log). The launcher is also executed
// under bash with a fake virtualenv whose `gunicorn` prints what it was given.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { normalizeSpec } from "../../components/render/spec";
import { renderServiceFiles } from "../../components/render/hostFiles";
import { recipe, recipeSettings } from "../helpers/recipe";

const spec = normalizeSpec(recipeSettings());
const files = renderServiceFiles(spec, {});
const stanzas = (text: string) =>
  text.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#"));

describe("seed parity with the recipe", () => {
  test("the job file is at the recipe's path with the recipe's stanzas, in order, and our three", () => {
    const j = recipe.upstartJob;
    assert.equal(files.job.path, j.path);
    assert.deepEqual(stanzas(files.job.content), [
      `description "${j.description}"`,
      `start on ${j.startOn}`,
      `stop on ${j.stopOn}`,
      "respawn",
      `respawn limit ${j.respawnLimit.count} ${j.respawnLimit.intervalSeconds}`,
      // Our deliberate additions, for least privilege and clean stops (docs/security.md): a
      // stop waits out Gunicorn's graceful timeout, and the master runs as the app user.
      `kill timeout ${spec.gracefulTimeout + 5}`,
      `setuid ${recipe.launcher.user}`,
      `setgid ${recipe.launcher.group}`,
      `exec ${j.exec}`,
    ]);
  });

  test("the launcher is at the recipe's path, bash with set -e, and sets the recipe's variables", () => {
    const l = recipe.launcher;
    assert.equal(files.launcher.path, l.path);
    const lines = files.launcher.content.split("\n");
    assert.equal(lines[0], "#!/bin/bash");
    assert.ok(lines.includes("set -e"));
    for (const [name, value] of [
      ["LOGFILE", l.logFile],
      ["LOGDIR", "/home/user/logs"],
      ["USER", l.user],
      ["GROUP", l.group],
      ["VIRTUALENV", l.virtualenv],
      ["PROJECTDIR", l.projectDir],
    ]) {
      assert.ok(lines.includes(`${name}='${value}'`), `sets ${name}`);
    }
  });

  test("the reloadable recipe settings (workers, bind, log level) are in the Gunicorn config", () => {
    const l = recipe.launcher;
    const cfg = files.gunicornConfig.content;
    assert.match(cfg, new RegExp(`^workers = ${l.workers}$`, "m"));
    assert.match(cfg, new RegExp(`^bind = \\["${l.bind}"\\]$`, "m"));
    assert.match(cfg, new RegExp(`^loglevel = "${l.logLevel}"$`, "m"));
  });

  test("the launcher keeps the recipe's order of effect: activate, cd, mkdir, exec with stderr to the log", () => {
    const lines = files.launcher.content.split("\n");
    const at = (re: RegExp) => {
      const i = lines.findIndex((line) => re.test(line));
      assert.ok(i >= 0, `missing ${re}`);
      return i;
    };
    const activate = at(/^source "\$VIRTUALENV\/bin\/activate"$/);
    const cd = at(/^cd "\$PROJECTDIR"$/);
    const mkdir = at(/mkdir -p "\$LOGDIR"$/);
    const exec = at(/^exec gunicorn .* 2>>"\$LOGFILE"$/);
    assert.ok(activate < cd && cd < mkdir && mkdir < exec);
    assert.equal(exec, lines.length - 2, "exec is the last command");
  });

  test("executed, the launcher activates, cds, creates the log dir and execs gunicorn with the recipe's settings", () => {
    // Same launcher with the recipe's values moved under a temp root, so it can run unprivileged.
    const root = mkdtempSync(join(tmpdir(), "seed-"));
    const l = recipe.launcher;
    const moved = normalizeSpec({
      ...recipeSettings(),
      projectDir: root + l.projectDir,
      virtualenv: root + l.virtualenv,
      logFile: root + l.logFile,
      launcherPath: root + l.path,
      gunicornConfigPath: root + "/etc/gunicorn/django-project.conf.py",
    });
    const rendered = renderServiceFiles(moved, {});
    mkdirSync(moved.projectDir, { recursive: true });
    mkdirSync(`${moved.virtualenv}/bin`, { recursive: true });
    writeFileSync(
      `${moved.virtualenv}/bin/activate`,
      `export PATH="${moved.virtualenv}/bin:$PATH"\nexport VIRTUAL_ENV="${moved.virtualenv}"\n`,
    );
    writeFileSync(
      `${moved.virtualenv}/bin/gunicorn`,
      `#!/bin/bash\nprintf '%s\\n' "cwd=$PWD" "venv=$VIRTUAL_ENV" "$@" > "${root}/argv"\necho "stderr line" >&2\n`,
    );
    chmodSync(`${moved.virtualenv}/bin/gunicorn`, 0o755);
    writeFileSync(join(root, "launcher.sh"), rendered.launcher.content);
    const r = spawnSync("bash", [join(root, "launcher.sh")], {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin" },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(root + "/home/user/logs"), "log dir created");
    assert.deepEqual(readFileSync(`${root}/argv`, "utf8").split("\n").slice(0, -1), [
      `cwd=${moved.projectDir}`,
      `venv=${moved.virtualenv}`,
      "--config",
      moved.gunicornConfigPath,
      "--user",
      l.user,
      "--group",
      l.group,
      "--log-file",
      moved.logFile,
      "mysite.wsgi:application",
    ]);
    assert.equal(
      readFileSync(moved.logFile, "utf8"),
      "stderr line\n",
      "stderr is appended to the log",
    );
  });

  test("the recipe's manage.py run_gunicorn form is available for old Django", () => {
    const old = renderServiceFiles(
      normalizeSpec({ ...recipeSettings(), invocation: "django-manage" }),
      {},
    );
    assert.match(
      old.launcher.content,
      /^exec python manage\.py run_gunicorn --config "\$CONFIG" .* 2>>"\$LOGFILE"$/m,
    );
  });
});

// The privileged helper of `sudo: "helper"`: its golden rendering, its argument checks (run for
// real with bash: they fail before anything touches the file system), and the job-file check
// that keeps the deploy user from running anything as root, executed against the rendered
// job and against jobs written to escalate. The helper on a real host: test/integration/
// leastPrivilege.test.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { normalizeSpec, type ServiceSettings } from "../../components/spec";
import { renderUpstartJob } from "../../components/render/upstartJob";
import { renderSystemdUnit } from "../../components/render/systemdUnit";
import { renderWriteFileScript } from "../../components/render/remoteScripts";
import {
  jobFileCheck,
  renderSudoersRule,
  renderSudoHelper,
  sudoersPath,
} from "../../components/render/sudoHelper";
import { assertGolden } from "../helpers/golden";

const GOLDEN = resolve(__dirname, "golden/sudo-helper");
const base: ServiceSettings = {
  job: "shop",
  user: "shop",
  group: "shop",
  setuid: "shop",
  setgid: "shop",
  sudo: "helper",
  projectDir: "/srv/shop/current",
  virtualenv: "/srv/shop/venv",
  logFile: "/var/log/shop/gunicorn.log",
  releases: true,
};
const spec = normalizeSpec(base);
const helper = renderSudoHelper(spec);

test("the helper and its sudoers rule render their golden files", () => {
  assertGolden(`${GOLDEN}/gunicorn-upstart-shop`, helper.content);
  assertGolden(`${GOLDEN}/sudoers`, renderSudoersRule("shop", "deploy"));
  assert.equal(helper.path, "/usr/local/sbin/gunicorn-upstart-shop");
  assert.deepEqual(helper.operations, [
    "write-job",
    "delete-job",
    "write-launcher",
    "delete-launcher",
    "write-config",
    "delete-config",
    "write-logrotate",
    "delete-logrotate",
    "upload-release",
    "apply",
    "stop",
  ]);
  // sudo ignores files in sudoers.d whose name has a dot.
  assert.equal(sudoersPath("shop.v2"), "/etc/sudoers.d/gunicorn-upstart-shop_v2");
});

test("the shape changes with what is fixed in the helper, not with content or tuning", () => {
  const same = renderSudoHelper(normalizeSpec({ ...base, workers: 9, logLevel: "debug" }));
  assert.equal(same.shape, helper.shape, "workers and log level live in the config's content");
  for (const change of [
    { bind: "127.0.0.1:9000" },
    { logFile: "/var/log/shop/other.log" },
    { healthCheckPath: "/health" },
    { setuid: "web", user: "web" },
  ]) {
    const other = renderSudoHelper(normalizeSpec({ ...base, ...change }));
    assert.notEqual(other.shape, helper.shape, JSON.stringify(change));
  }
});

test("sudo helper needs a non-root setuid", () => {
  assert.throws(() => normalizeSpec({ ...base, setuid: undefined }), /invalid 'setuid'.*helper/);
  assert.throws(() => normalizeSpec({ ...base, setuid: "root" }), /invalid 'setuid'/);
  assert.throws(() => normalizeSpec({ ...base, sudo: "some" as never }), /invalid 'sudo'/);
});

describe("the helper's argument checks", () => {
  const dir = mkdtempSync(join(tmpdir(), "sudo-helper-"));
  const file = join(dir, "helper");
  writeFileSync(file, helper.content, { mode: 0o755 });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) =>
    spawnSync("bash", [file, ...args], { input: "", encoding: "utf8" });

  test("a helper of another shape says so and what to do (exit 3)", () => {
    const r = run("0000000000000000", "apply");
    assert.equal(r.status, 3);
    assert.match(r.stderr, /installed for shape [0-9a-f]{16} of the job shop.*npm run render/);
  });
  test("unknown operations, missing, extra and malformed arguments fail (exit 2)", () => {
    const cases: [string[], RegExp][] = [
      [[], /usage/],
      [[helper.shape], /usage/],
      [[helper.shape, "shell"], /unknown operation 'shell'; operations: write-job/],
      [[helper.shape, "write-job"], /write-job takes 1 argument/],
      [[helper.shape, "write-job", "12", "13"], /takes 1 argument/],
      [[helper.shape, "write-job", "12; id"], /expected a byte count, got '12; id'/],
      [[helper.shape, "write-job", "-1"], /expected a byte count/],
      [[helper.shape, "write-job", "1234567890123"], /expected a byte count/],
      [[helper.shape, "apply", "--debug"], /apply takes 0 argument/],
      [[helper.shape, "upload-release", "../../etc/x", "10"], /expected a release id/],
      [[helper.shape, "upload-release", "0123456789abcdef", "$(id)"], /expected a byte count/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});

describe("the job-file check", () => {
  const dir = mkdtempSync(join(tmpdir(), "job-check-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const me = userInfo().username;
  const myGroup = spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();
  const path = join(dir, "shop.conf");

  /** Writes `content` through the write script with the check; returns the run. */
  function write(
    content: string,
    ids: { setgid?: string } = { setgid: "shop" },
    init: "upstart" | "systemd" = "upstart",
  ) {
    const script = renderWriteFileScript(
      { path, owner: me, group: myGroup, mode: "0644" },
      Buffer.byteLength(content),
      { check: jobFileCheck("shop", ids.setgid, init) },
    );
    return spawnSync("bash", ["-c", script], { input: content, encoding: "utf8" });
  }

  test("accepts every job the renderer writes for a helper spec", () => {
    const specs: ServiceSettings[] = [
      base,
      { ...base, setgid: undefined },
      {
        ...base,
        description: "Shop (Django 4) — ünïcode, 'quotes', $HOME, `x`",
        jobEnv: { LANG: "C.UTF-8", PATHS: "/a b/c" },
        umask: "027",
        chdir: "/srv/shop/current",
        nofile: { soft: 4096, hard: 8192 },
        killTimeout: 40,
        console: "log",
        normalExit: ["0", "TERM"],
        reloadSignal: "SIGHUP",
      },
    ];
    for (const settings of specs) {
      const s = normalizeSpec(settings);
      const r = write(renderUpstartJob(s), s.setgid !== undefined ? { setgid: s.setgid } : {});
      assert.equal(r.status, 0, r.stderr);
    }
  });

  test("refuses jobs that would run something as root; the old file stays", () => {
    const good = renderUpstartJob(spec);
    assert.equal(write(good).status, 0);
    const exec = `exec ${spec.launcherPath}`;
    const bad: [string, string, RegExp][] = [
      ["no setuid", good.replace("setuid shop\n", ""), /exactly one "setuid shop"/],
      ["setuid root", good.replace("setuid shop", "setuid root"), /setuid must be shop/],
      [
        "two setuid",
        good.replace("setuid shop", "setuid shop\nsetuid root"),
        /setuid must be shop/,
      ],
      ["setuid, then a word", good.replace("setuid shop", "setuid shop root"), /setuid must be/],
      ["setgid root", good.replace("setgid shop", "setgid root"), /setgid must be shop/],
      [
        "pre-start script",
        good.replace(exec, `pre-start script\n  chmod u+s /bin/bash\nend script\n${exec}`),
        /stanza "pre-start" is not allowed/,
      ],
      ["script block", good.replace(exec, "script\n  id\nend script"), /stanza "script"/],
      ["post-stop exec", `${good}post-stop exec /bin/sh -c id\n`, /"post-stop" is not allowed/],
      ["chroot", `${good}chroot /\n`, /"chroot" is not allowed/],
      ["continued line", good.replace(exec, `${exec} \\\n  --x`), /continued line/],
      [
        "a stanza hidden in a quoted string",
        good.replace(/description "[^"]*"/, 'description "x\npre-start exec id\n"'),
        /unbalanced quote/,
      ],
      ["a control character", good.replace("respawn\n", "respawn\r\n"), /control character/],
      ["a NUL", good.replace("respawn\n", "respawn\0\n"), /control character/],
    ];
    for (const [label, content, message] of bad) {
      const r = write(content);
      assert.notEqual(r.status, 0, `${label} was accepted`);
      assert.match(
        r.stderr,
        /refusing .*: the helper runs only services that drop to the app user/,
      );
      assert.match(r.stderr, message, label);
      assert.equal(readFileSync(path, "utf8"), good, `${label}: the old file changed`);
      assert.equal(
        existsSync(path) && spawnSync("ls", ["-A", dir], { encoding: "utf8" }).stdout.trim(),
        "shop.conf",
        `${label}: a temp file stayed`,
      );
    }
  });

  test("with init systemd: accepts every unit the renderer writes for a helper spec", () => {
    const specs: ServiceSettings[] = [
      { ...base, init: "systemd" },
      { ...base, init: "systemd", setgid: undefined },
      {
        ...base,
        init: "systemd",
        description: "Shop 100% — ünïcode, 'quotes', $HOME",
        jobEnv: { LANG: "C.UTF-8", PCT: "50%" },
        umask: "027",
        chdir: "/srv/shop/current",
        nofile: { soft: 4096, hard: 8192 },
        killTimeout: 40,
        console: "none",
        normalExit: ["0", "TERM"],
        reloadSignal: "USR2",
      },
    ];
    for (const settings of specs) {
      const s = normalizeSpec(settings);
      const r = write(
        renderSystemdUnit(s),
        s.setgid !== undefined ? { setgid: s.setgid } : {},
        "systemd",
      );
      assert.equal(r.status, 0, r.stderr);
    }
  });

  test("with init systemd: refuses units that would run something as root", () => {
    const good = renderSystemdUnit(normalizeSpec({ ...base, init: "systemd" }));
    assert.equal(write(good, undefined, "systemd").status, 0);
    const exec = /^ExecStart=.*$/m.exec(good)![0];
    const bad: [string, string, RegExp][] = [
      ["no User", good.replace("User=shop\n", ""), /exactly one "User=shop"/],
      ["User=root", good.replace("User=shop", "User=root"), /User must be shop/],
      ["Group=root", good.replace("Group=shop", "Group=root"), /Group must be shop/],
      [
        "ExecStartPre",
        good.replace(exec, `ExecStartPre=+/bin/sh -c id\n${exec}`),
        /"ExecStartPre" is not allowed/,
      ],
      [
        "ExecStart=+",
        good.replace(exec, "ExecStart=+/bin/sh -c id"),
        /ExecStart may not run with full privileges/,
      ],
      ["ExecStart=-!", good.replace(exec, "ExecStart=-!/bin/sh -c id"), /full privileges/],
      [
        "ExecReload=!!",
        good.replace(/^ExecReload=.*$/m, "ExecReload=!!/bin/id"),
        /ExecReload may not/,
      ],
      [
        "PermissionsStartOnly",
        `${good}PermissionsStartOnly=true\n`,
        /"PermissionsStartOnly" is not allowed/,
      ],
      [
        "AmbientCapabilities",
        good.replace("[Service]", "[Service]\nAmbientCapabilities=CAP_SYS_ADMIN"),
        /not allowed/,
      ],
      [
        "another section",
        `${good}[Socket]\nListenStream=80\n`,
        /section \[Socket\] is not allowed/,
      ],
      ["continued line", good.replace(exec, `${exec} \\\n  --x`), /continued line/],
      ["a control character", good.replace("Type=simple", "Type=simple\r"), /control character/],
    ];
    for (const [label, content, message] of bad) {
      const r = write(content, undefined, "systemd");
      assert.notEqual(r.status, 0, `${label} was accepted`);
      assert.match(r.stderr, message, `${label}: ${r.stderr}`);
      assert.equal(readFileSync(path, "utf8"), good, `${label}: the old file changed`);
    }
  });
});

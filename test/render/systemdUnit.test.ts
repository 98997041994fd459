// init "systemd": the unit the same spec renders, side by side with the Upstart job for the
// recipe's values, golden files, and `systemd-analyze verify` (Debian's systemd) on every
// rendered unit. verify checks that ExecStart exists and is executable, so each unit is
// verified in a private mount namespace where a tmpfs holds the rendered launcher at its path
// (the machine's own directories are never written).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import {
  normalizeSpec,
  type ServiceSettings,
  type ServiceSpec,
} from "../../components/render/spec";
import { renderSystemdUnit } from "../../components/render/systemdUnit";
import { renderUpstartJob } from "../../components/render/upstartJob";
import { renderLauncher } from "../../components/render/launcher";
import { renderServiceFiles } from "../../components/render/hostFiles";
import { assertGolden } from "../helpers/golden";
import { recipeSettings } from "../helpers/recipe";

const GOLDEN = resolve(__dirname, "golden");

const cases: Record<string, ServiceSettings> = {
  recipe: recipeSettings(),
  defaults: {},
  "all-options": {
    job: "shop",
    description: "Shop (Django 4, 100% behind nginx)",
    respawnLimitCount: 3,
    respawnLimitInterval: 60,
    projectDir: "/srv/shop/current",
    virtualenv: "/srv/shop/venv",
    logFile: "/var/log/shop/gunicorn.log",
    user: "shop",
    group: "www-data",
    launcherPath: "/usr/local/sbin/shop-gunicorn",
    bind: "0.0.0.0:8080",
    jobEnv: { LANG: "C.UTF-8", PYTHONUNBUFFERED: "1", SHARE: "50%" },
    chdir: "/srv/shop/current",
    umask: "027",
    nofile: { soft: 4096, hard: 8192 },
    killTimeout: 25,
    console: "none",
    normalExit: ["0", "TERM"],
    setuid: "shop",
    setgid: "www-data",
    reloadSignal: "USR2",
  },
  "no-respawn": { respawn: false, startOnRunlevels: "[5]" },
};

for (const [name, settings] of Object.entries(cases)) {
  test(`the ${name} spec renders its golden systemd unit`, () => {
    const spec = normalizeSpec({ ...settings, init: "systemd" });
    assertGolden(`${GOLDEN}/${name}/unit.service`, renderSystemdUnit(spec));
    const files = renderServiceFiles(spec, {});
    assert.equal(files.job.path, `/etc/systemd/system/${spec.job}.service`);
    assert.equal(files.job.content, renderSystemdUnit(spec));
    assert.equal(files.launcher.content, renderLauncher(spec), "the same launcher for both inits");
  });
}

test("the recipe's values side by side: each Upstart stanza has its systemd setting", () => {
  const upstart = renderUpstartJob(normalizeSpec(recipeSettings()));
  const systemd = renderSystemdUnit(normalizeSpec({ ...recipeSettings(), init: "systemd" }));
  const pairs: [string, string[]][] = [
    ['description "Django Project"', ["Description=Django Project"]],
    ["start on runlevel [2345]", ["WantedBy=multi-user.target"]],
    // systemd stops every service at shutdown and reboot: `stop on runlevel [06]`.
    ["stop on runlevel [06]", ["[Install]"]],
    ["respawn", ["Restart=always"]],
    // 10 respawns after the first start: 11 starts in 5 s.
    ["respawn limit 10 5", ["StartLimitBurst=11", "StartLimitIntervalSec=5"]],
    [
      "exec /home/user/django-project/run-project.sh",
      ["ExecStart=/home/user/django-project/run-project.sh"],
    ],
  ];
  const lines = (text: string) => text.split("\n");
  for (const [stanza, settings] of pairs) {
    assert.ok(lines(upstart).includes(stanza), `Upstart: ${stanza}`);
    for (const s of settings) assert.ok(lines(systemd).includes(s), `systemd: ${s}`);
  }
  // Beyond the recipe's stanzas: how a reload reaches Gunicorn and how a stop does.
  assert.ok(lines(systemd).includes("ExecReload=/bin/kill -HUP $MAINPID"));
  assert.ok(lines(systemd).includes("KillMode=mixed"));
});

test("the optional stanzas map to their settings, and '%' is escaped", () => {
  const unit = renderSystemdUnit(normalizeSpec({ ...cases["all-options"], init: "systemd" }));
  for (const line of [
    "Description=Shop (Django 4, 100%% behind nginx)",
    "StartLimitIntervalSec=60",
    "StartLimitBurst=4",
    "ExecReload=/bin/kill -USR2 $MAINPID",
    "RestartPreventExitStatus=0 TERM",
    "TimeoutStopSec=25",
    "User=shop",
    "Group=www-data",
    "UMask=0027",
    "WorkingDirectory=/srv/shop/current",
    "LimitNOFILE=4096:8192",
    "StandardOutput=null",
    'Environment="SHARE=50%%"',
  ]) {
    assert.ok(unit.split("\n").includes(line), line);
  }
});

test("what has no systemd meaning is refused, naming the field", () => {
  assert.throws(
    () => normalizeSpec({ init: "systemd", console: "owner" }),
    /invalid 'console': "owner" \(a terminal\) has no systemd equivalent/,
  );
  assert.throws(
    () => normalizeSpec({ init: "systemd", startOnRunlevels: "[!06]" }),
    /invalid 'startOnRunlevels'.*no systemd target/,
  );
  assert.throws(() => normalizeSpec({ init: "sysv" as never }), /invalid 'init'/);
});

describe("systemd-analyze verify", () => {
  const dir = mkdtempSync(join(tmpdir(), "units-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The deepest directory of `path`'s ancestors that exists here: the tmpfs goes over it. */
  function mountPoint(path: string): string {
    let d = dirname(path);
    while (!existsSync(d)) d = dirname(d);
    return d;
  }

  function verify(spec: ServiceSpec): { status: number | null; stderr: string } {
    const unit = join(dir, `${spec.job}.service`);
    writeFileSync(unit, renderSystemdUnit(spec));
    const launcher = join(dir, `${spec.job}.launcher`);
    writeFileSync(launcher, renderLauncher(spec), { mode: 0o755 });
    const script = [
      "set -e",
      `mount -t tmpfs tmpfs "$1"`,
      'mkdir -p "$(dirname "$2")"',
      'install -m 0755 "$3" "$2"',
      'exec systemd-analyze verify "$4"',
    ].join("\n");
    const r = spawnSync(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "bash",
        "-c",
        script,
        "verify",
        mountPoint(spec.launcherPath),
        spec.launcherPath,
        launcher,
        unit,
      ],
      { encoding: "utf8" },
    );
    assert.ok(!r.error, `unshare and systemd-analyze are required: ${r.error?.message}`);
    return { status: r.status, stderr: r.stderr };
  }

  const all: Record<string, ServiceSettings> = {
    ...cases,
    releases: { releases: true, setuid: "user", console: "log" },
    "unix socket": { bind: "unix:/run/app/sock", invocation: "django-manage" },
  };
  for (const [name, settings] of Object.entries(all)) {
    test(`passes, without a warning, on the ${name} unit`, () => {
      const r = verify(normalizeSpec({ ...settings, init: "systemd" }));
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, "", "no warnings");
    });
  }

  test("and catches a broken unit (the check is real)", () => {
    const spec = normalizeSpec({ ...cases["all-options"], init: "systemd" });
    writeFileSync(join(dir, "broken.service"), `${renderSystemdUnit(spec)}Bogus=1\n`);
    const r = spawnSync("systemd-analyze", ["verify", join(dir, "broken.service")], {
      encoding: "utf8",
    });
    assert.match(r.stderr, /Unknown key 'Bogus'|is not executable/);
  });
});

describe("systemd-analyze security --offline=yes", () => {
  const dir = mkdtempSync(join(tmpdir(), "exposure-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The overall exposure systemd rates the unit at, 0.0 (best) to 10.0 (UNSAFE). */
  function exposure(spec: ServiceSpec): { score: number; rating: string } {
    const unit = join(dir, `${spec.job}.service`);
    writeFileSync(unit, renderSystemdUnit(spec));
    const r = spawnSync("systemd-analyze", ["security", "--offline=yes", unit], {
      encoding: "utf8",
    });
    const m = /Overall exposure level for .*: (\d+\.\d) (\w+)/.exec(r.stdout);
    assert.ok(m, `no exposure in: ${r.stdout}${r.stderr}`);
    return { score: Number(m[1]), rating: m[2] as string };
  }

  const units: Record<string, ServiceSettings> = {
    defaults: {},
    recipe: recipeSettings(),
    "releases under /srv": { releases: true, logFile: "/var/log/site/gunicorn.log" },
    "port 80 (the one capability it needs)": { bind: "0.0.0.0:80" },
  };
  for (const [name, settings] of Object.entries(units)) {
    test(`the ${name} unit rates below 3.0, "OK" or better`, () => {
      const { score, rating } = exposure(normalizeSpec({ ...settings, init: "systemd" }));
      console.log(`systemd-analyze security, ${name} unit: ${score} ${rating}`);
      assert.ok(score < 3.0, `${score} ${rating}`);
      assert.match(rating, /^(OK|SAFE)$/);
    });
  }

  test("each relaxed directive leaves the unit, and the rating says so (the score is real)", () => {
    const strict = exposure(normalizeSpec({ init: "systemd" }));
    const relaxed = normalizeSpec({
      init: "systemd",
      relaxSandbox: ["ProtectSystem", "CapabilityBoundingSet", "SystemCallFilter"],
    });
    const unit = renderSystemdUnit(relaxed);
    assert.doesNotMatch(
      unit,
      /^(ProtectSystem|ReadWritePaths|CapabilityBoundingSet|SystemCallFilter)=/m,
    );
    assert.match(unit, /^NoNewPrivileges=yes$/m);
    const loose = exposure(relaxed);
    console.log(`systemd-analyze security: ${strict.score} strict, ${loose.score} relaxed`);
    assert.ok(loose.score > strict.score);
  });
});

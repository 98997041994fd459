// `sudo: "helper"` on a real host: the deploy user's sudo is narrowed to one sudoers rule naming
// the job's helper (rendered by the same code as `npm run render`, installed by the test's
// admin as an admin would), and the whole lifecycle still works through it: upload a release,
// write the files, start, reload on a settings change, stop and remove on destroy. What the
// deploy user tries beyond that is refused: a root shell, any job file or unit but the one the
// helper was installed with (every bypass a review found of the old pattern check), a changed
// logrotate rule, a setuid file in a release, a stale helper. Once per init: Upstart
// played by the stand-in (test/host/initctl), which honours `setuid` as Upstart does, and real
// systemd (a Debian container booted by systemd-nspawn), where the unit must keep `User=app`.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { GunicornServiceArgs } from "../../components";
import {
  normalizeSpec,
  type ServiceSettings,
  type ServiceSpec,
} from "../../components/render/spec";
import { renderServiceFiles } from "../../components/render/hostFiles";
import { logrotatePath, renderLogrotate } from "../../components/render/logrotate";
import {
  renderSudoersRule,
  renderSudoHelper,
  sudoersPath,
} from "../../components/render/sudoHelper";
import { asHelperCommand } from "../../components/render/remoteScripts";
import { shQuote } from "../../components/render/shell";
import { releaseUploadPath } from "../../components/render/releaseScripts";
import { craftedRelease } from "../helpers/craftedRelease";
import { jobEscalations } from "../helpers/escalations";
import { freePort } from "../helpers/freePort";
import { makeApp } from "./app";
import { phases, UpFailed } from "./replay";
import { APP_USER_SETUP, siteProgram, siteSettings } from "./site";
import { startTestHost, type TestHost } from "./testHost";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

// The log directory is the app user's: with setuid, the launcher's `mkdir -p` runs as app.
const SETUP = `${APP_USER_SETUP}install -d -o app -g app -m 0750 /var/log/site\n`;

let host: TestHost;
let port: number;
let replay: LifecycleEngine;
const app = makeApp();

function settings(extra: Partial<GunicornServiceArgs> = {}): Partial<GunicornServiceArgs> {
  return siteSettings(port, {
    init: host.init,
    sudo: "helper",
    setuid: "app",
    setgid: "app",
    workers: 2,
    healthCheckPath: "/",
    appSource: app.dir,
    appEnv: { DJANGO_SETTINGS_MODULE: "mysite.settings" },
    ...extra,
  });
}

function program(extra: Partial<GunicornServiceArgs> = {}): () => pulumi.Output<unknown>[] {
  return siteProgram(host, port, settings(extra));
}

/** The helper exactly as `npm run render` writes it for these settings. */
function helperFor(extra: Partial<GunicornServiceArgs> = {}) {
  const { appSource, appEnv, ...rest } = settings(extra);
  void appEnv;
  const spec = normalizeSpec({ ...(rest as ServiceSettings), releases: appSource !== undefined });
  return { spec, helper: renderSudoHelper(spec) };
}

const ops = phases;

function masterPid(): number {
  const pid = host.mainPid("site");
  assert.ok(pid, "site is not running");
  return pid;
}

/**
 * The bypasses of the old pattern check, with the app user's names. Under Upstart the stand-in
 * reads line by line, so the parenthesised `start on` would not show its root effect here; the
 * test shows that such a file can no longer reach the host at all.
 */
function escalations(spec: ServiceSpec): [string, string][] {
  return jobEscalations(renderServiceFiles(spec, {}).job.content, spec.init, "app", "app");
}

/** What an admin does as root: install the helper and its rule (again after a change). */
function install(spec: ServiceSpec, helper: string): void {
  const rule = renderSudoersRule(spec.job, host.user);
  host.rootOk(
    [
      `printf '%s' ${shQuote(helper)} > /tmp/helper`,
      `install -o root -g root -m 0755 /tmp/helper ${shQuote(renderSudoHelper(spec).path)}`,
      `printf '%s' ${shQuote(rule)} > /tmp/rule`,
      "visudo -cqf /tmp/rule",
      `install -o root -g root -m 0440 /tmp/rule ${shQuote(sudoersPath(spec.job))}`,
      "rm -f /etc/sudoers.d/deploy /tmp/helper /tmp/rule",
      "visudo -cq",
    ].join("\n"),
  );
}

for (const init of ["upstart", "systemd"] as const) {
  describe(
    `sudo helper on a real ${init} host: the deploy user may run only the job's helper as root`,
    {
      timeout: 600_000,
    },
    () => {
      before(async () => {
        host = await startTestHost(SETUP, { init });
        port = await freePort();
        replay = lifecycleEngine(host);
        app.setVersion("v1");
        const { spec, helper } = helperFor();
        // What an admin does once, as root: install the helper and the rule, then take away the
        // deploy user's general sudo.
        install(spec, helper.content);
      });
      after(() => host?.stop());

      test("the deploy user has no root shell, only the helper", () => {
        const shell = host.ssh("sudo -n /bin/bash -c id");
        assert.notEqual(shell.status, 0);
        assert.match(shell.stderr, /a password is required|not allowed/);
        const list = host.ssh("sudo -n -l");
        assert.match(list.stdout, /\(root\) NOPASSWD: \/usr\/local\/sbin\/gunicorn-upstart-site/);
        assert.doesNotMatch(list.stdout, /\(ALL\)|NOPASSWD: ALL/);
      });

      test("up uploads the release, writes the files and starts the job, all through the helper; the master runs as app", async () => {
        const ran = await replay.up(program());
        assert.deepEqual(ops(ran), [
          "create site-config-write",
          "create site-hooks-write",
          "create site-job-write",
          "create site-launcher-write",
          "create site-logrotate-write",
          "create site-logs-write",
          "create site-manage-write",
          "create site-release-copy",
          "create site-release-upload",
          "create site-service-lifecycle",
        ]);
        assert.match(ran.at(-1)!.stdout, /site: start \(master pid \d+\)/);
        const res = await fetch(`http://127.0.0.1:${port}/`);
        assert.match(await res.text(), /^pid=\d+ version=v1$/);
        const master = masterPid();
        assert.equal(host.rootOk(`ps -o user= -p ${master}`).trim(), "app");
        assert.equal(
          host.rootOk(
            `stat -c '%n %U:%G %a' ${host.initFile("site")} /etc/gunicorn/site.conf.py /etc/logrotate.d/gunicorn-site`,
          ),
          `${host.initFile("site")} root:root 644\n/etc/gunicorn/site.conf.py root:app 640\n/etc/logrotate.d/gunicorn-site root:root 644\n`,
        );
      });

      test("a settings change reloads through the helper (same master), and needs no new helper", async () => {
        const master = masterPid();
        const ran = await replay.up(program({ workers: 3 }));
        assert.deepEqual(ops(ran), ["update site-config-write", "update site-service-lifecycle"]);
        assert.match(ran[1]!.stdout, /site: reload/);
        assert.equal(masterPid(), master);
      });

      test("a new release is uploaded, switched to and served by a reload", async () => {
        app.setVersion("v2");
        const ran = await replay.up(program({ workers: 3 }));
        assert.deepEqual(ops(ran), [
          "update site-release-copy",
          "update site-release-upload",
          "update site-service-lifecycle",
        ]);
        const res = await fetch(`http://127.0.0.1:${port}/`);
        assert.match(await res.text(), /version=v2$/);
      });

      test("the helper refuses a job file that would run anything as root, and keeps the old one", () => {
        const { spec, helper } = helperFor({ workers: 3 });
        const bad = escalations(spec);
        const jobPath = host.initFile("site");
        const before = host.rootOk(`sha256sum ${jobPath}`);
        for (const [label, content] of bad) {
          const r = host.ssh(
            asHelperCommand(helper.path, helper.shape, "write-job", [Buffer.byteLength(content)]),
            content,
          );
          assert.equal(r.status, 1, `${label}: ${r.stdout}${r.stderr}`);
          // The step runner's failure: on stdout, the reason first.
          assert.match(
            r.stdout,
            /^gunicorn-upstart: writing \S+ on \S+ failed: refusing \S+: it runs as root, so its content is fixed when the helper is installed/,
            label,
          );
        }
        const rotate = `${renderLogrotate(spec)}\n/etc/shadow {\n  postrotate\n    id\n  endscript\n}\n`;
        const r = host.ssh(
          asHelperCommand(helper.path, helper.shape, "write-logrotate", [
            Buffer.byteLength(rotate),
          ]),
          rotate,
        );
        assert.equal(r.status, 1);
        assert.match(r.stdout, /its content is fixed when the helper is installed/);
        assert.equal(host.rootOk(`sha256sum ${jobPath}`), before);
        assert.equal(host.rootOk(`cat ${logrotatePath(spec)}`), renderLogrotate(spec));
        assert.equal(
          host
            .rootOk(
              `ls -A ${jobPath.replace(/\/[^/]*$/, "")} /etc/logrotate.d | grep -c '^\\.' || true`,
            )
            .trim(),
          "0",
        );
        assert.equal(host.rootOk("test -u /bin/bash && echo setuid || echo plain").trim(), "plain");
      });

      test("a release with a setuid-root binary leaves no setuid or setgid file under the app root", () => {
        const { helper } = helperFor({ workers: 3 });
        const archive = craftedRelease("setuid", "rootshell", "/bin/sh");
        const sha256 = createHash("sha256").update(Buffer.from(archive, "base64")).digest("hex");
        // The deploy user's copy, where the helper reads it (as deploy).
        const copy = releaseUploadPath("/srv/site");
        const put = host.ssh(`mkdir -p "$(dirname ${copy})" && base64 -d > ${copy}`, archive);
        assert.equal(put.status, 0, put.stderr);
        const r = host.ssh(
          asHelperCommand(helper.path, helper.shape, "upload-release", [
            "00000000000000aa",
            sha256,
          ]),
        );
        assert.equal(r.status, 0, r.stderr);
        assert.equal(host.rootOk("find /srv/site -perm /6000"), "");
        assert.equal(
          host.rootOk("stat -c '%U:%G %a' /srv/site/releases/00000000000000aa/rootshell").trim(),
          "root:root 755",
        );
        const who = host.ssh("/srv/site/releases/00000000000000aa/rootshell -c id");
        assert.match(who.stdout, /^uid=\d+\(deploy\)/);
        assert.doesNotMatch(who.stdout, /euid=0/);
        host.rootOk("rm -rf /srv/site/releases/00000000000000aa");
      });

      test("the helper reads the deploy user's copy as deploy: a link to a root-only file is refused", () => {
        const { helper } = helperFor({ workers: 3 });
        const copy = releaseUploadPath("/srv/site");
        // The hash of what root alone could read there: were root to read it, it would match.
        const sha256 = host.rootOk("sha256sum /etc/shadow").split(" ")[0]!;
        host.ssh(`mkdir -p "$(dirname ${copy})" && ln -sfn /etc/shadow ${copy}`);
        const r = host.ssh(
          asHelperCommand(helper.path, helper.shape, "upload-release", [
            "00000000000000ab",
            sha256,
          ]),
        );
        assert.equal(r.status, 1, r.stdout + r.stderr);
        assert.match(
          r.stdout + r.stderr,
          /cannot read its copy as the SSH user: cat: .*uploads\/srv_site-[0-9a-f]{8}\.tar\.gz: Permission denied/,
        );
        assert.doesNotMatch(r.stdout + r.stderr, /^root:/m, "no line of /etc/shadow");
        assert.equal(host.root("test -e /srv/site/releases/00000000000000ab").status, 1);
        host.ssh(`rm -f ${copy}`);
      });

      test("a change the installed helper does not cover fails at once with what to do; nothing changes", async () => {
        const master = masterPid();
        await assert.rejects(
          replay.up(program({ workers: 3, healthCheckPath: "/?check=1" })),
          (e: unknown) =>
            e instanceof UpFailed &&
            /installed for shape [0-9a-f]{16} of the job site.*npm run render/.test(e.stderr),
        );
        assert.equal(masterPid(), master);
      });

      test("after a path change and a reinstall, the stored delete of the old config still runs and removes it", async () => {
        const moved = { workers: 3, gunicornConfigPath: "/etc/gunicorn/site-v2.conf.py" };
        const { spec, helper } = helperFor(moved);
        install(spec, helper.content);
        const ran = await replay.up(program(moved));
        assert.ok(ran.some((r) => r.name === "site-config-write" && r.op === "delete"));
        assert.match(ran.at(-1)!.stdout, /site: restart/);
        assert.equal(host.root("test -e /etc/gunicorn/site.conf.py").status, 1, "old config gone");
        assert.equal(host.root("test -e /etc/gunicorn/site-v2.conf.py").status, 0);
        const res = await fetch(`http://127.0.0.1:${port}/`);
        assert.equal(res.status, 200);
        // A path no helper of the job wrote is never removed, whatever the deploy user asks.
        const r = host.ssh(
          asHelperCommand(helper.path, "0000000000000000", "delete-config", ["/etc/passwd"]),
        );
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /left \/etc\/passwd on the host: no helper of this job wrote it/);
        assert.equal(host.root("test -s /etc/passwd").status, 0);
      });

      test("a failed start's report never shows a root-only file the app user links as the log", () => {
        const { helper } = helperFor({
          workers: 3,
          gunicornConfigPath: "/etc/gunicorn/site-v2.conf.py",
        });
        // The app user points its log at a root-only file; the deploy user makes the next
        // start fail (a launcher that exits), so the report reads "the log".
        const shadow = host.rootOk("stat -c '%U %a' /etc/shadow");
        host.rootOk("sudo -u app ln -sfn /etc/shadow /var/log/site/gunicorn.log");
        const launcher = "#!/bin/bash\nexit 1\n";
        const w = host.ssh(
          asHelperCommand(helper.path, helper.shape, "write-launcher", [
            Buffer.byteLength(launcher),
          ]),
          launcher,
        );
        assert.equal(w.status, 0, w.stderr);
        const manifest = host
          .rootOk("cat /var/lib/gunicorn-upstart/site.applied")
          .replace(/launcher=[0-9a-f]{64}/, `launcher=${"0".repeat(64)}`);
        const r = host.ssh(asHelperCommand(helper.path, helper.shape, "apply"), manifest);
        assert.equal(r.status, 1, r.stdout + r.stderr);
        assert.match(
          r.stdout,
          /^gunicorn-upstart: the lifecycle of site on \S+ failed: site did not serve on .* after restart/,
        );
        assert.match(r.stdout, /no log file at \/var\/log\/site\/gunicorn\.log that app can read/);
        assert.doesNotMatch(r.stdout + r.stderr, /^root:/m, "no line of /etc/shadow");
        assert.equal(host.rootOk("stat -c '%U %a' /etc/shadow"), shadow, "nor was it re-owned");
      });

      test("destroy stops the job and removes its files through the helper; the release stays", async () => {
        const ran = await replay.destroy();
        assert.ok(
          ran.some((r) =>
            /the helper \/usr\/local\/sbin\/gunicorn-upstart-site and the sudoers rule .* stay: remove them as root/.test(
              r.stderr,
            ),
          ),
          "destroy tells the admin what is theirs to remove",
        );
        assert.ok(ran.some((r) => r.name === "site-service-lifecycle" && /stopped/.test(r.stdout)));
        assert.throws(() => masterPid(), "not running");
        assert.equal(host.rootOk("pgrep -c -u app -f gunicorn || true").trim(), "0");
        assert.equal(
          host
            .rootOk(
              `ls ${host.initFile("site")} /etc/gunicorn/site.conf.py /etc/logrotate.d/gunicorn-site 2>/dev/null | wc -l`,
            )
            .trim(),
          "0",
        );
        assert.match(host.rootOk("ls /srv/site/releases"), /^[0-9a-f]{16}\n[0-9a-f]{16}\n$/);
      });
    },
  );
}

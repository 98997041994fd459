// Nobody becomes root, round three: each way to root (or to root's files) a review found in
// what root runs, reads or writes for the service — a root master's logs, host preparation's
// directories, the virtualenv build, the release marker, the manage command's terminal, and
// directories made under sticky ones — performed on a real host against the rendered files,
// once per init: Upstart played by the stand-in (test/host/initctl), and real systemd (a
// Debian container booted by systemd-nspawn). The attackers' halves are in
// test/helpers/escalations.ts. The local machine's own boundary is tested in
// localMachineBoundary.test.ts.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { GunicornServiceArgs } from "../../components";
import { normalizeSpec, type ServiceSettings } from "../../components/render/spec";
import { renderHostSetupScript, renderPythonEnvScript } from "../../components/render/hostScripts";
import { renderManageCommand } from "../../components/render/manageCommand";
import { releaseUploadPath, renderUploadScript } from "../../components/render/releaseScripts";
import { renderWriteFileScript } from "../../components/render/remoteScripts";
import { shQuote } from "../../components/render/shell";
import { craftedRelease } from "../helpers/craftedRelease";
import { ROOT_PATH_ATTACKS } from "../helpers/escalations";
import { freePort } from "../helpers/freePort";
import { makeApp } from "./app";
import { UpFailed } from "./replay";
import { APP_USER_SETUP, siteProgram, siteSettings } from "./site";
import { startTestHost, type TestHost } from "./testHost";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

// A victim file of root's, and a virtualenv only root can change (a root master needs one).
const SETUP =
  APP_USER_SETUP +
  "printf 'root owns this\\n' > /etc/victim && chmod 0644 /etc/victim\n" +
  "/usr/bin/python3 -m venv --system-site-packages --without-pip /opt/venv\n" +
  "install -d -o app -g app -m 0755 /home/app/proj\n";

let host: TestHost;
let port: number;
let engine: LifecycleEngine;
const app = makeApp();

const victim = () => host.rootOk("stat -c '%U:%G %a' /etc/victim /etc").trim();
const ROOT_OWNED = "root:root 644\nroot:root 755";

function rootMaster(extra: Partial<GunicornServiceArgs> = {}): () => pulumi.Output<unknown>[] {
  return siteProgram(
    host,
    port,
    siteSettings(port, {
      init: host.init,
      setuid: "root",
      virtualenv: "/opt/venv",
      logFile: "/var/log/site/gunicorn.log",
      accessLog: "/var/log/site/access.log",
      workers: 1,
      healthCheckPath: "/",
      appSource: app.dir,
      appEnv: { DJANGO_SETTINGS_MODULE: "mysite.settings" },
      ...extra,
    }),
  );
}

for (const init of ["upstart", "systemd"] as const) {
  describe(
    `nobody becomes root on a real ${init} host: paths, programs and terminals root uses`,
    { timeout: 600_000 },
    () => {
      before(async () => {
        host = await startTestHost(SETUP, { init });
        port = await freePort();
        engine = lifecycleEngine(host);
        app.setVersion("v1");
      });
      after(() => host?.stop());

      test("a root master refuses log directories the app user can change: a link planted as the log never gives root's file away", async () => {
        // As an older deploy left it: the log directory is the app user's, who links the logs.
        host.rootOk(
          [
            "install -d -o app -g app -m 0750 /var/log/site",
            "sudo -u app ln -s /etc/victim /var/log/site/access.log",
            "sudo -u app ln -s /etc/victim /var/log/site/gunicorn.log",
          ].join("\n"),
        );
        await assert.rejects(engine.up(rootMaster()), (e: unknown) => {
          assert.ok(e instanceof UpFailed, String(e));
          assert.equal(e.resource, "site-service-lifecycle");
          assert.match(
            e.message,
            /would run its Gunicorn master as root writing its logs in \/var\/log\/site, but \/var\/log\/site \(uid \d+, mode 750\) can be changed by a user other than root/,
          );
          return true;
        });
        assert.equal(victim(), ROOT_OWNED, "the victim is root's still");
        assert.equal(host.mainPid("site"), undefined, "nothing started");
      });

      test("with the directory gone, the root master's log directory is made root's: it serves, and the app user cannot plant a link", async () => {
        host.rootOk("rm -rf /var/log/site");
        await engine.up(rootMaster());
        const res = await fetch(`http://127.0.0.1:${port}/`);
        assert.match(await res.text(), /version=v1$/);
        const master = host.mainPid("site")!;
        assert.equal(host.rootOk(`ps -o user= -p ${master}`).trim(), "root");
        assert.equal(host.rootOk("stat -c '%U:%G %a' /var/log/site").trim(), "root:app 750");
        const plant = host.root("sudo -u app ln -sfn /etc/victim /var/log/site/access.log");
        assert.notEqual(plant.status, 0, "the app user cannot change the log directory");
        assert.match(plant.stderr, /Permission denied/);
        // Reopened and chowned at a restart too: still the real log file, the app user's.
        await engine.up(rootMaster({ workers: 2 }));
        assert.equal(
          host.rootOk("stat -c '%F %U' /var/log/site/access.log").trim(),
          "regular file app",
        );
        assert.equal(victim(), ROOT_OWNED);
        await engine.destroy();
      });

      test("host preparation never hands a directory to a link swapped in under the app user's parent", async () => {
        const script = renderHostSetupScript({
          user: "app",
          group: "app",
          home: "/home/app",
          packages: [],
          directories: [{ path: "/home/app/proj/logs", owner: "app", group: "app", mode: "0750" }],
          waitForCloudInit: false,
        });
        // The app user swaps the directory's name for a link to /etc while root prepares the host
        // again and again (the race was won in 5 of 150 tries before).
        const swapper = ROOT_PATH_ATTACKS.linkSwapper("/home/app/proj/logs", "/etc", 60);
        host.rootOk(
          `printf '%s' ${shQuote(swapper)} > /tmp/swapper.sh && (sudo -u app timeout 60 bash /tmp/swapper.sh </dev/null >/dev/null 2>&1 &)`,
        );
        let made = 0;
        for (let i = 0; i < 100; i++) {
          // The test host's sshd logs each login to this process: read it between tries.
          await new Promise((resolve) => setImmediate(resolve));
          const r = host.root(script);
          if (/created \/home\/app\/proj\/logs/.test(r.stdout + r.stderr)) made++;
        }
        host.rootOk("pkill -u app -f swapper.sh || true");
        assert.equal(victim(), ROOT_OWNED, "/etc is root's still");
        assert.ok(made > 0, "the directory was made (as app) in some of the tries");
        // Made by the app user itself where it owns the parent: root never touched it.
        host.rootOk("rm -rf /home/app/proj/logs");
        const r = host.root(script);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(host.rootOk("stat -c '%U:%G %a' /home/app/proj/logs").trim(), "app:app 750");
        // A parent of another user's, for a directory that is not theirs: refused.
        host.rootOk("useradd --system --create-home --home-dir /home/bob bob");
        const other = renderHostSetupScript({
          user: "app",
          group: "app",
          home: "/home/app",
          packages: [],
          directories: [{ path: "/home/bob/site", owner: "app", group: "app", mode: "0750" }],
          waitForCloudInit: false,
        });
        const refused = host.root(other);
        assert.notEqual(refused.status, 0);
        assert.match(
          refused.stdout + refused.stderr,
          /refusing to make \/home\/bob\/site as root: \/home\/bob \(uid \d+, mode \d+\) can be changed by a user other than root/,
        );
      });

      test("the virtualenv build never runs a Python the app user planted as root", () => {
        const planted = ROOT_PATH_ATTACKS.plantedPython("/tmp/python-ran-as", "/usr/bin/python3");
        /** The app user puts `planted` in as `<venv>/bin/python`. */
        const plant = (venv: string) =>
          host.rootOk(
            [
              `printf '%s' ${shQuote(planted)} | sudo -u app tee ${venv}/bin/python >/dev/null`,
              `sudo -u app chmod 0755 ${venv}/bin/python`,
            ].join("\n"),
          );
        /** The rendered build, as root, as a file: it reads the requirements from stdin. */
        const build = (virtualenv: string, user?: string, python = "/usr/bin/python3") => {
          const script = renderPythonEnvScript({
            virtualenv,
            ...(user !== undefined ? { user } : {}),
            python,
            systemSitePackages: true,
            packages: ["gunicorn"],
          });
          host.rootOk(`printf '%s' ${shQuote(script)} > /tmp/venv.sh`);
          return host.root("bash /tmp/venv.sh </dev/null");
        };
        const ranAs = () => host.rootOk("sort -u /tmp/python-ran-as").trim().split("\n");
        const appUid = host.rootOk("id -u app").trim();
        host.rootOk("rm -f /tmp/python-ran-as && install -m 0666 /dev/null /tmp/python-ran-as");

        // The app user's virtualenv (its parent is the app user's): bin/python is a planted one.
        host.rootOk("sudo -u app mkdir -p /home/app/appvenv/bin");
        plant("/home/app/appvenv");
        const r = build("/home/app/appvenv", "app");
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout + r.stderr, /pip install into \/home\/app\/appvenv \(as app\)/);
        assert.deepEqual(ranAs(), [appUid], "only ever as the app user");
        // A virtualenv of root's whose bin/ is the app user's (an operator chowned only the top
        // after the app user had built it): still built as the app user, never run as root.
        host.rootOk(
          "install -d -m 0755 /opt/halfvenv && install -d -o app -g app -m 0755 /opt/halfvenv/bin",
        );
        plant("/opt/halfvenv");
        const h = build("/opt/halfvenv", "app");
        assert.equal(h.status, 0, h.stdout + h.stderr);
        assert.match(h.stdout + h.stderr, /pip install into \/opt\/halfvenv \(as app\)/);
        assert.deepEqual(ranAs(), [appUid]);
        // Without an app user to build it as, it is refused, not built as root.
        const refused = build("/home/app/appvenv");
        assert.notEqual(refused.status, 0);
        assert.match(
          refused.stdout + refused.stderr,
          /refusing to build \/home\/app\/appvenv as root/,
        );
        assert.deepEqual(ranAs(), [appUid]);
        // The interpreter named: one the app user can replace runs as the app user where the app
        // user builds, and is refused where root would run it (it used to run as root, once, to
        // learn its version).
        host.rootOk(
          [
            "sudo -u app mkdir -p /home/app/bin",
            `printf '%s' ${shQuote(planted)} | sudo -u app tee /home/app/bin/python3 >/dev/null`,
            "sudo -u app chmod 0755 /home/app/bin/python3",
          ].join("\n"),
        );
        const appPython = build("/home/app/appvenv", "app", "/home/app/bin/python3");
        assert.equal(appPython.status, 0, appPython.stdout + appPython.stderr);
        assert.deepEqual(ranAs(), [appUid]);
        const rootPython = build("/opt/rootvenv", undefined, "/home/app/bin/python3");
        assert.notEqual(rootPython.status, 0);
        assert.match(
          rootPython.stdout + rootPython.stderr,
          /refusing to run \/home\/app\/bin\/python3 as root: \/home\/app\/bin\/python3 \(uid \d+, mode \d+\) can be changed by a user other than root/,
        );
        assert.deepEqual(ranAs(), [appUid], "never as root");
      });

      test("a release that ships the release marker as a link makes root create nothing", () => {
        const archive = craftedRelease("marker-link", "x", "/etc/nologin");
        const sha256 = createHash("sha256").update(Buffer.from(archive, "base64")).digest("hex");
        const copy = releaseUploadPath("/srv/marker");
        const put = host.ssh(`mkdir -p "$(dirname ${copy})" && base64 -d > ${copy}`, archive);
        assert.equal(put.status, 0, put.stderr);
        host.rootOk("rm -f /etc/nologin && install -d -m 0755 /srv/marker");
        const r = host.ssh(
          "sudo -n /bin/bash -s",
          renderUploadScript("/srv/marker", "00000000000000ac", sha256),
        );
        assert.notEqual(r.status, 0, r.stdout + r.stderr);
        assert.match(
          r.stdout + r.stderr,
          /refusing release 00000000000000ac: it ships \.gunicorn-upstart-release/,
        );
        assert.equal(host.root("test -e /etc/nologin").status, 1, "no /etc/nologin");
        assert.equal(host.root("test -e /srv/marker/releases/00000000000000ac").status, 1);
      });

      test("root never makes a directory through a link another user planted in a sticky directory", () => {
        host.rootOk("sudo -u app ln -sfn /etc /tmp/gu-planted");
        const content = "x\n";
        const script = renderWriteFileScript(
          { path: "/tmp/gu-planted/gu-sub/file", owner: "root", group: "root", mode: "0644" },
          Buffer.byteLength(content),
        );
        const r = host.ssh("sudo -n /bin/bash -s", script + content);
        assert.notEqual(r.status, 0);
        assert.match(
          r.stdout + r.stderr,
          /refusing to write \/tmp\/gu-planted\/gu-sub\/file: \/tmp\/gu-planted \(a link of uid \d+\)/,
        );
        assert.equal(host.root("test -e /etc/gu-sub").status, 1, "nothing made in /etc");
        // Root's own link that leads nowhere (yet): where it leads is checked, not skipped as
        // missing (anyone could make /tmp/gu-dangling first).
        host.rootOk("ln -sfn /tmp/gu-dangling /var/lib/gu-dangling");
        const dangling = renderWriteFileScript(
          { path: "/var/lib/gu-dangling/sub/file", owner: "root", group: "root", mode: "0644" },
          Buffer.byteLength(content),
        );
        const d = host.ssh("sudo -n /bin/bash -s", dangling + content);
        assert.notEqual(d.status, 0);
        assert.match(d.stdout + d.stderr, /refusing to write \/var\/lib\/gu-dangling\/sub\/file/);
        assert.equal(host.root("test -e /tmp/gu-dangling").status, 1, "nothing made in /tmp");
      });

      test("the manage command gives the app's code its own terminal: nothing it types reaches root's shell", () => {
        const spec = normalizeSpec({
          ...(siteSettings(port, {
            init: host.init,
            projectDir: "/home/app/proj",
            gunicornConfigPath: "/etc/gunicorn/manage-test.conf.py",
          }) as ServiceSettings),
        });
        const manage = renderManageCommand(spec);
        host.rootOk(
          [
            "install -d -m 0755 /etc/gunicorn",
            "printf 'raw_env = []\\n' > /etc/gunicorn/manage-test.conf.py",
            "chown root:app /etc/gunicorn/manage-test.conf.py && chmod 0640 /etc/gunicorn/manage-test.conf.py",
            `printf '%s' ${shQuote(manage)} > /usr/local/bin/site-manage && chmod 0755 /usr/local/bin/site-manage`,
            `printf '%s' ${shQuote(ROOT_PATH_ATTACKS.tiocstiManagePy("echo INJ''ECTED-$(id -u)"))} | sudo -u app tee /home/app/proj/manage.py >/dev/null`,
          ].join("\n"),
        );
        const transcript = host.rootOk(
          `printf '%s' ${shQuote(ROOT_PATH_ATTACKS.rootTerminal("site-manage check; echo DONE"))} > /tmp/terminal.py && python3 /tmp/terminal.py`,
        );
        assert.match(transcript, /manage\.py: sid \d+ tty \S+|no controlling terminal/);
        assert.match(transcript, /DONE/);
        assert.doesNotMatch(
          transcript,
          /^INJECTED-/m,
          `root's shell ran what the app typed:\n${transcript}`,
        );
        // The app user's process did not run in root's environment.
        host.rootOk(
          `printf '%s' ${shQuote("import os\nprint(' '.join(sorted(os.environ)))\n")} | sudo -u app tee /home/app/proj/manage.py >/dev/null`,
        );
        const env = host.rootOk("SECRET_OF_ROOT=1 site-manage </dev/null");
        assert.match(env, /\bHOME\b/);
        assert.doesNotMatch(env, /SECRET_OF_ROOT|SUDO_/);
        // Without a terminal in, not one descriptor of root's terminal is the app's: a process
        // it left behind could read what root types next.
        host.rootOk(
          `printf '%s' ${shQuote("import os\nprint('ttys %s' % [os.isatty(f) for f in (0, 1, 2)])\n")} | sudo -u app tee /home/app/proj/manage.py >/dev/null`,
        );
        const ttys = host.rootOk(
          `printf '%s' ${shQuote(ROOT_PATH_ATTACKS.rootTerminal("site-manage </dev/null; echo DONE"))} > /tmp/terminal.py && python3 /tmp/terminal.py`,
        );
        assert.match(ttys, /ttys \[False, False, False\]/, ttys);
      });
    },
  );
}

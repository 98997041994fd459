// Whole programs under the mock runtime, each in its own process as `pulumi preview` would run
// them: the stack program (index.ts) with its config, bad config, computed bad input, and the
// composition example. Also: the offline render gives the preview's error for the same bad
// config. (Pulumi.yaml is generated from the settings table: test/render/generated.test.ts.)
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, mkdtempSync, writeFileSync, readdirSync, existsSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import type { Recorded } from "../helpers/pulumiMocks";
import { isMarkedSecret } from "../helpers/secrets";
import { contentOf, programOf } from "../helpers/loaded";
import { nginxTest, throwawayCertificate } from "../helpers/nginx";

const ROOT = resolve(__dirname, "../..");

/**
 * The project's config defaults from Pulumi.yaml, as the Pulumi CLI applies them before it runs
 * a program (strings; lists as JSON). Programs other than index.ts get none.
 */
function projectDefaults(program: string): Record<string, string> {
  if (program !== "index.ts") return {};
  const project = parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")) as {
    config: Record<string, { default?: unknown }>;
  };
  const out: Record<string, string> = {};
  for (const [key, schema] of Object.entries(project.config)) {
    if (schema.default !== undefined) {
      out[key] =
        typeof schema.default === "string" ? schema.default : JSON.stringify(schema.default);
    }
  }
  return out;
}

function runProgram(
  program: string,
  stackConfig: Record<string, string> = {},
  secretKeys: string[] = [],
) {
  const config = { ...projectDefaults(program), ...stackConfig };
  const r = spawnSync(process.execPath, ["--import", "tsx", "test/helpers/mockRun.ts", program], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
    env: {
      ...process.env,
      PULUMI_CONFIG: JSON.stringify(
        Object.fromEntries(Object.entries(config).map(([k, v]) => [`gunicorn-upstart:${k}`, v])),
      ),
      PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(secretKeys.map((k) => `gunicorn-upstart:${k}`)),
    },
  });
  const parsed =
    r.status === 0
      ? (JSON.parse(r.stdout) as { resources: Recorded[]; outputs: Record<string, unknown> })
      : undefined;
  return { status: r.status, stderr: r.stderr, result: parsed };
}

function renderCli(dir: string, stackFile: string | undefined) {
  const project = mkdtempSync(join(tmpdir(), "project-"));
  cpSync(join(ROOT, "Pulumi.yaml"), join(project, "Pulumi.yaml"));
  if (stackFile !== undefined) writeFileSync(join(project, "Pulumi.ci.yaml"), stackFile);
  const args = ["--import", "tsx", "scripts/render.ts", "--out", dir, "--project", project];
  if (stackFile !== undefined) args.push("--stack", "ci");
  return spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8" });
}

const HOST_CONFIG = { host: "10.0.0.5", sshUser: "deploy", sshPrivateKey: "PRIVATE-KEY-TEXT" };

describe("the stack program (index.ts)", () => {
  test("with an existing host it configures the service from config and exports its outputs", () => {
    const r = runProgram("index.ts", { ...HOST_CONFIG, workers: "5", bind: "0.0.0.0:8000" }, [
      "sshPrivateKey",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const names = r.result!.resources.map((x) => x.name).sort();
    // The default stack prepares the host, builds the virtualenv and deploys the demo app.
    assert.deepEqual(names, [
      "app",
      "app-config",
      "app-config-write",
      "app-hooks",
      "app-hooks-write",
      "app-host",
      "app-host-prepare",
      "app-job",
      "app-job-write",
      "app-launcher",
      "app-launcher-write",
      "app-logrotate",
      "app-logrotate-write",
      "app-logs",
      "app-logs-write",
      "app-manage",
      "app-manage-write",
      "app-nginx",
      "app-nginx-site",
      "app-python",
      "app-python-install",
      "app-release",
      "app-release-copy",
      "app-release-upload",
      "app-service",
      "app-service-lifecycle",
    ]);
    const python = r.result!.resources.find((x) => x.name === "app-python-install")!;
    assert.equal(
      contentOf(python.inputs),
      readFileSync(join(ROOT, "examples/hello-django/requirements.txt"), "utf8"),
    );
    // nginx in front by default (HTTPS with a certificate made on the host); Gunicorn on loopback.
    assert.equal(r.result!.outputs.url, "https://10.0.0.5/");
    assert.equal(r.result!.outputs.jobName, "hello");
    const config = r.result!.resources.find((x) => x.name === "app-config-write")!;
    assert.match(JSON.stringify(config.inputs.stdin), /workers = 5/);
  });

  test('with appSource "" it serves the app already in projectDir: no release, nothing uploaded', () => {
    const r = runProgram(
      "index.ts",
      { ...HOST_CONFIG, appSource: "", projectDir: "/srv/mysite", buildVirtualenv: "false" },
      ["sshPrivateKey"],
    );
    assert.equal(r.status, 0, r.stderr);
    const names = r.result!.resources.map((x) => x.name);
    assert.ok(!names.some((n) => n.startsWith("app-release")), names.join(", "));
    assert.ok(!names.includes("app-python"), names.join(", "));
    const launcher = r.result!.resources.find((x) => x.name === "app-launcher-write")!;
    assert.match(JSON.stringify(launcher.inputs.stdin), /PROJECTDIR='\/srv\/mysite'/);
    assert.equal(r.result!.outputs.releaseId, undefined);
  });

  test("secretEnv values reach the Gunicorn config only as secrets", () => {
    const r = runProgram(
      "index.ts",
      {
        ...HOST_CONFIG,
        appEnv: '["DJANGO_SETTINGS_MODULE=mysite.settings"]',
        secretEnv: '["SECRET_KEY=hunter2-secret"]',
      },
      ["sshPrivateKey", "secretEnv"],
    );
    assert.equal(r.status, 0, r.stderr);
    for (const res of r.result!.resources) {
      for (const key of ["create", "update", "delete"]) {
        assert.ok(!JSON.stringify(res.inputs[key] ?? "").includes("hunter2"), `${res.name}.${key}`);
      }
    }
    const stdin = r.result!.resources.find((x) => x.name === "app-config-write")!.inputs
      .stdin as Record<string, string>;
    assert.ok(isMarkedSecret(stdin), "the config file content is a secret input");
    assert.match(contentOf({ stdin }), /"SECRET_KEY=hunter2-secret"/);
    assert.match(contentOf({ stdin }), /"DJANGO_SETTINGS_MODULE=mysite.settings"/);
  });

  test("with no config it runs on the local machine (systemd), with the machine's own key", () => {
    const r = runProgram("index.ts", {});
    assert.equal(r.status, 0, r.stderr);
    const names = r.result!.resources.map((x) => x.name);
    assert.ok(names.includes("app-machine-machine"), names.join(", "));
    assert.ok(!names.some((n) => n.startsWith("app-vm")), "no VM");
    const machine = r.result!.resources.find((x) => x.name === "app-machine-machine")!;
    assert.match(programOf(machine.inputs), /PORT=2222\n/);
    assert.match(programOf(machine.inputs), /systemd-nspawn/);
    assert.match(programOf(machine.inputs), /'down'\)\n.*rm -rf -- "\$DIR"/s);
    assert.match(String(machine.inputs.delete), /gunicorn-upstart 'down'$/);
    assert.equal(machine.inputs.addPreviousOutputInEnv, false, "its stdout holds the key");
    const job = r.result!.resources.find((x) => x.name === "app-job-write")!;
    assert.equal((job.inputs.triggers as string[])[0], "/etc/systemd/system/hello.service");
    const upstart = runProgram("index.ts", { init: "upstart" });
    assert.equal(upstart.status, 1);
    assert.match(upstart.stderr, /config: invalid 'init': the local machine runs systemd/);
  });

  test("target ec2 provisions a VM, and needs a public key and an SSH CIDR for that", () => {
    const missing = runProgram("index.ts", { sshPrivateKey: "K", target: "ec2" }, [
      "sshPrivateKey",
    ]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /config: invalid 'publicKey': required to provision a VM/);
    const open = runProgram(
      "index.ts",
      { sshPrivateKey: "K", publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@laptop" },
      ["sshPrivateKey"],
    );
    assert.equal(open.status, 1);
    assert.match(
      open.stderr,
      /config: invalid 'sshCidr': required to provision a VM, so that SSH is not open to the world/,
    );
    const vm = (extra: Record<string, string> = {}) => {
      const config = {
        sshPrivateKey: "K",
        publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@laptop",
        sshCidr: "198.51.100.7/32",
        ...extra,
      };
      const run = runProgram("index.ts", config, ["sshPrivateKey"]);
      assert.equal(run.status, 0, run.stderr);
      const sg = run.result!.resources.find((x) => x.name === "app-vm-sg")!;
      const ports = (sg.inputs.ingress as { fromPort: number }[]).map((i) => i.fromPort);
      return { r: run, ports };
    };
    const { r, ports } = vm();
    assert.deepEqual(ports, [22, 80, 443], "SSH and nginx's ports, nothing else");
    assert.equal(r.result!.outputs.url, "https://203.0.113.10/");
    // Without nginx, Gunicorn's own port when it binds a public address.
    const bare = vm({ nginx: "false", bind: "0.0.0.0:8000" });
    assert.deepEqual(bare.ports, [22, 8000]);
    assert.equal(bare.r.result!.outputs.url, "http://203.0.113.10:8000/");
    assert.equal(r.result!.outputs.instanceId, "app-vm-instance-id");
  });

  test("bad config fails with an error that names the key, and the offline render gives the same error and writes nothing", () => {
    const r = runProgram("index.ts", { ...HOST_CONFIG, workers: "0" }, ["sshPrivateKey"]);
    assert.equal(r.status, 1);
    const message = `config: invalid 'workers': expected a whole number from 1 to 1024 or "auto", got "0"`;
    assert.match(r.stderr, new RegExp(message.replace(/[()[\]]/g, "\\$&")));
    const out = mkdtempSync(join(tmpdir(), "render-"));
    const cli = renderCli(out, "config:\n  gunicorn-upstart:workers: 0\n");
    assert.equal(cli.status, 1);
    assert.equal(cli.stderr.trim(), `error: ${message}`);
    assert.deepEqual(readdirSync(out), []);
  });

  test("a config key the stack does not know (a typo) fails naming the closest key, in the program and the render", () => {
    const r = runProgram("index.ts", { ...HOST_CONFIG, wokers: "4" }, ["sshPrivateKey"]);
    assert.equal(r.status, 1);
    const message =
      "config: invalid 'wokers': this stack has no config key 'wokers'; did you mean 'workers'? (the keys are declared in Pulumi.yaml)";
    assert.ok(r.stderr.includes(message), r.stderr);
    const out = mkdtempSync(join(tmpdir(), "render-"));
    const cli = renderCli(out, "config:\n  gunicorn-upstart:wokers: 4\n  aws:region: eu-west-1\n");
    assert.equal(cli.status, 1);
    assert.equal(cli.stderr.trim(), `error: ${message}`);
    assert.deepEqual(readdirSync(out), []);
    // Far from every key: no guess.
    const far = runProgram("index.ts", { ...HOST_CONFIG, zzzzzzzzzz: "1" }, ["sshPrivateKey"]);
    assert.match(far.stderr, /no config key 'zzzzzzzzzz' \(the keys/);
  });

  test("a bad value computed at run time (an Output) still fails the program with the field named", () => {
    const r = runProgram("test/fixtures/programs/badWorkersOutput.ts");
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /app: invalid 'workers': expected a whole number from 1 to 1024 or "auto", got -3/,
    );
    const env = runProgram("test/fixtures/programs/badAppEnv.ts");
    assert.equal(env.status, 1);
    assert.match(
      env.stderr,
      /app: invalid 'appEnv': "BAD-NAME" is not a valid environment variable name/,
    );
  });

  test("the fleet example provisions three systemd VMs behind an ALB with a rolling plan", () => {
    const r = runProgram(
      "examples/fleet/index.ts",
      {
        sshPrivateKey: "K",
        subnetIds: '["subnet-a","subnet-b"]',
        publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@laptop",
        sshCidr: "203.0.113.7/32",
      },
      ["sshPrivateKey"],
    );
    assert.equal(r.status, 0, r.stderr);
    const names = r.result!.resources.map((x) => x.name);
    for (const n of ["web-alb", "web-tg", "web-http", "web-2-vm-instance", "web-2-register"])
      assert.ok(names.includes(n), n);
    const unit = r.result!.resources.find((x) => x.name === "web-0-job-write")!;
    assert.deepEqual((unit.inputs.triggers as string[])[0], "/etc/systemd/system/hello.service");
    assert.match(String(r.result!.outputs.url), /^http:\/\/.*:80\/$/);
  });

  test("the composition example runs two services on one host, each with its own nginx site by server name", () => {
    const demo = join(ROOT, "examples/hello-django");
    const r = runProgram(
      "examples/two-services/index.ts",
      { sshPrivateKey: "K", shopSource: demo, blogSource: demo },
      ["sshPrivateKey"],
    );
    assert.equal(r.status, 0, r.stderr);
    const names = r.result!.resources.map((x) => x.name);
    for (const n of [
      "shop-service-lifecycle",
      "blog-service-lifecycle",
      "shop-nginx-site",
      "blog-nginx-site",
    ])
      assert.ok(names.includes(n), n);
    assert.equal(r.result!.outputs.shopUrl, "https://10.0.0.5/");
    const site = (n: string) => contentOf(r.result!.resources.find((x) => x.name === n)!.inputs);
    assert.match(site("shop-nginx-site"), /server_name shop\.example\.com;/);
    assert.match(site("blog-nginx-site"), /proxy_pass http:\/\/127\.0\.0\.1:8002;/);
    assert.doesNotMatch(site("blog-nginx-site"), /default_server/, "named sites share the ports");
  });
});

describe("Pulumi.yaml and the offline render", () => {
  const project = parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")) as {
    name: string;
    config: Record<
      string,
      { type: string; default?: unknown; description?: string; secret?: boolean }
    >;
    template: { config: Record<string, { description?: string; secret?: boolean }> };
  };

  test("every key under config: has a default: the Pulumi CLI refuses to run a stack missing any other", () => {
    // Found by the real CLI: "Stack 'dev' is missing configuration values 'ami', 'appEnv', ..."
    // (pulumi/pulumi#21797); keys a stack may leave unset are listed under template.config.
    for (const [key, schema] of Object.entries(project.config)) {
      assert.notEqual(schema.default, undefined, `${key} has no default`);
    }
  });

  test("the stack deploys the demo app by default", () => {
    assert.equal(
      project.config.projectDir,
      undefined,
      "with releases, projectDir is <appRoot>/current",
    );
    assert.equal(project.config.appSource!.default, "examples/hello-django");
    assert.ok(existsSync(join(ROOT, "examples/hello-django/manage.py")));
  });

  test("render with no stack writes the default files at their host paths", () => {
    const out = mkdtempSync(join(tmpdir(), "render-"));
    const r = renderCli(out, undefined);
    assert.equal(r.status, 0, r.stderr);
    // The default target is the local machine, whose init is systemd.
    assert.ok(existsSync(join(out, "etc/systemd/system/hello.service")));
    assert.ok(existsSync(join(out, "usr/local/lib/gunicorn-upstart/run-hello.sh")));
    assert.ok(existsSync(join(out, "etc/gunicorn/hello.conf.py")));
    assert.ok(existsSync(join(out, "etc/logrotate.d/gunicorn-hello")));
    // The nginx site the default stack puts in front, as written for review: the real nginx
    // accepts it (with a certificate made here in place of the one made on the host).
    const site = readFileSync(join(out, "etc/nginx/conf.d/gunicorn-hello.conf"), "utf8");
    assert.match(site, /listen 8443 ssl default_server;/);
    assert.match(site, /proxy_pass http:\/\/127\.0\.0\.1:8000;/);
    const tls = throwawayCertificate();
    const check = nginxTest(
      site
        .replace("/etc/gunicorn-upstart/tls/hello.crt", tls.cert)
        .replace("/etc/gunicorn-upstart/tls/hello.key", tls.key),
      tls.dir,
    );
    assert.equal(check.status, 0, check.out);
  });

  test("render with a stack file writes what the stack program would put on the host, byte for byte", () => {
    const out = mkdtempSync(join(tmpdir(), "render-"));
    const stack = [
      "config:",
      "  gunicorn-upstart:host: 10.0.0.5",
      "  gunicorn-upstart:job: site",
      "  gunicorn-upstart:workers: 7",
      "  gunicorn-upstart:appEnv:",
      "    - DJANGO_SETTINGS_MODULE=mysite.settings",
      "  gunicorn-upstart:sshPrivateKey:",
      "    secure: v1:AAAAencrypted",
      "",
    ].join("\n");
    const r = renderCli(out, stack);
    assert.equal(r.status, 0, r.stderr);
    const program = runProgram(
      "index.ts",
      {
        ...HOST_CONFIG,
        job: "site",
        workers: "7",
        appEnv: '["DJANGO_SETTINGS_MODULE=mysite.settings"]',
      },
      ["sshPrivateKey"],
    );
    assert.equal(program.status, 0, program.stderr);
    for (const role of ["job", "launcher", "config", "logrotate"]) {
      const res = program.result!.resources.find((x) => x.name === `app-${role}-write`)!;
      const path = (res.inputs.triggers as string[])[0]!;
      assert.equal(readFileSync(join(out, path), "utf8"), contentOf(res.inputs), role);
    }
  });

  test("render with init systemd writes the unit where systemd reads it, and the same launcher", () => {
    const out = mkdtempSync(join(tmpdir(), "render-"));
    const stack = "config:\n  gunicorn-upstart:host: 10.0.0.5\n  gunicorn-upstart:init: systemd\n";
    const r = renderCli(out, stack);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^0644 root:root \/etc\/systemd\/system\/hello\.service$/m);
    assert.ok(!existsSync(join(out, "etc/init/hello.conf")), "no Upstart job");
    const unit = readFileSync(join(out, "etc/systemd/system/hello.service"), "utf8");
    assert.match(unit, /^ExecStart=\/usr\/local\/lib\/gunicorn-upstart\/run-hello\.sh$/m);
    assert.ok(existsSync(join(out, "usr/local/lib/gunicorn-upstart/run-hello.sh")));
  });

  test("render with sudo helper also writes the helper and its sudoers rule, which visudo accepts", () => {
    const out = mkdtempSync(join(tmpdir(), "render-"));
    const stack = [
      "config:",
      "  gunicorn-upstart:host: 10.0.0.5",
      "  gunicorn-upstart:sshUser: deploy",
      "  gunicorn-upstart:job: site.v2",
      "  gunicorn-upstart:sudo: helper",
      "  gunicorn-upstart:setuid: hello",
      "  gunicorn-upstart:nginx: false",
      "  gunicorn-upstart:prepareHost: false",
      "  gunicorn-upstart:buildVirtualenv: false",
      "",
    ].join("\n");
    const r = renderCli(out, stack);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^0755 root:root \/usr\/local\/sbin\/gunicorn-upstart-site\.v2$/m);
    assert.match(r.stdout, /^0440 root:root \/etc\/sudoers\.d\/gunicorn-upstart-site_v2$/m);
    const helper = readFileSync(join(out, "usr/local/sbin/gunicorn-upstart-site.v2"), "utf8");
    assert.match(helper, /^#!\/bin\/bash\n/);
    const rule = join(out, "etc/sudoers.d/gunicorn-upstart-site_v2");
    assert.match(
      readFileSync(rule, "utf8"),
      /^deploy ALL=\(root\) NOPASSWD: \/usr\/local\/sbin\/gunicorn-upstart-site\.v2$/m,
    );
    const visudo = spawnSync("visudo", ["-cqf", rule], { encoding: "utf8" });
    assert.equal(visudo.status, 0, visudo.stderr);
  });

  test("render refuses sudo helper with the stack's host preparation, naming the key", () => {
    const out = mkdtempSync(join(tmpdir(), "render-"));
    const stack =
      "config:\n  gunicorn-upstart:host: 10.0.0.5\n  gunicorn-upstart:sudo: helper\n  gunicorn-upstart:setuid: hello\n  gunicorn-upstart:nginx: false\n";
    const r = renderCli(out, stack);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /invalid 'sudo': "helper" cannot run prepareHost and buildVirtualenv/);
  });
});

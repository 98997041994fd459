// GunicornService under Pulumi's mock runtime: the resource graph, what each remote command
// gets, secrets, validation, determinism and diff locality.
import { test, describe, beforeEach } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { GunicornService, type GunicornServiceArgs } from "../../components";
import { normalizeSpec } from "../../components/render/spec";
import { renderServiceFiles } from "../../components/render/hostFiles";
import { renderManifest } from "../../components/render/lifecycleScripts";
import { packRelease } from "../../components/render/appReleasePlan";
import { releaseUploadPath } from "../../components/render/releaseScripts";
import { loaderCommand } from "../../components/render/remoteScripts";
import { renderSudoHelper } from "../../components/render/sudoHelper";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  calls,
  INSTANCE_IP,
  parentName,
  recorded,
  recorder,
  registered,
  reset,
  settle,
  valueOf,
  inputsByName,
  dependencyNames,
  type Recorded,
} from "../helpers/pulumiMocks";
import { isMarkedSecret, unwrapSecret } from "../helpers/secrets";
import { contentOf, operationOf, programOf } from "../helpers/loaded";
import { createHash } from "node:crypto";

const PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nprivate-key-material\n-----END OPENSSH PRIVATE KEY-----";
const SECRET_VALUE = "s3cret-django-key-%$'\"";

const hostArgs = (extra: Partial<GunicornServiceArgs> = {}): GunicornServiceArgs => ({
  host: { host: "10.0.0.5", user: "deploy", privateKey: pulumi.secret(PRIVATE_KEY) },
  ...extra,
});
const vmArgs = (extra: Partial<GunicornServiceArgs> = {}): GunicornServiceArgs => ({
  vm: {
    publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@laptop",
    privateKey: PRIVATE_KEY,
    sshCidr: "198.51.100.7/32",
  },
  ...extra,
});

async function evaluate(args: GunicornServiceArgs, name = "app"): Promise<GunicornService> {
  const svc = new GunicornService(name, args, { transformations: [recorder] });
  await valueOf(svc.status);
  await valueOf(svc.url);
  await settle();
  return svc;
}

function byName(name: string): Recorded {
  const r = recorded.find((x) => x.name === name);
  assert.ok(r, `no resource named ${name}; have ${recorded.map((x) => x.name).join(", ")}`);
  return r;
}

describe("GunicornService", () => {
  beforeEach(async () => {
    await settle(); // let resources of the previous test finish registering
    reset();
  });

  const byNameRegistered = (name: string) => registered.find((r) => r.name === name)!;

  test("on an existing host it writes its files (job, launcher, hooks, config, logrotate rule) and drives one lifecycle, all parented to it", async () => {
    await evaluate(hostArgs());
    const graph = registered.map((r) => [r.type, r.name, parentName(r) ?? null]);
    assert.deepEqual(graph, [
      ["gunicorn-upstart:index:GunicornService", "app", null],
      ["gunicorn-upstart:index:RemoteFile", "app-job", "app"],
      ["command:remote:Command", "app-job-write", "app-job"],
      ["gunicorn-upstart:index:RemoteFile", "app-launcher", "app"],
      ["command:remote:Command", "app-launcher-write", "app-launcher"],
      ["gunicorn-upstart:index:RemoteFile", "app-hooks", "app"],
      ["command:remote:Command", "app-hooks-write", "app-hooks"],
      ["gunicorn-upstart:index:RemoteFile", "app-config", "app"],
      ["command:remote:Command", "app-config-write", "app-config"],
      ["gunicorn-upstart:index:RemoteFile", "app-logrotate", "app"],
      ["command:remote:Command", "app-logrotate-write", "app-logrotate"],
      ["gunicorn-upstart:index:RemoteFile", "app-manage", "app"],
      ["command:remote:Command", "app-manage-write", "app-manage"],
      ["gunicorn-upstart:index:RemoteFile", "app-logs", "app"],
      ["command:remote:Command", "app-logs-write", "app-logs"],
      ["gunicorn-upstart:index:ServiceLifecycle", "app-service", "app"],
      ["command:remote:Command", "app-service-lifecycle", "app-service"],
    ]);
    // Renamed from UpstartService: the alias keeps an existing stack's lifecycle in place.
    assert.deepEqual(byNameRegistered("app-service").opts.aliases, [
      { type: "gunicorn-upstart:index:UpstartService" },
    ]);
  });

  test("with a VM it provisions instance, key pair and security group under a Vm component", async () => {
    await evaluate(vmArgs());
    const vmChildren = registered
      .filter((r) => parentName(r) === "app-vm")
      .map((r) => [r.type, r.name]);
    assert.deepEqual(vmChildren, [
      ["aws:ec2/securityGroup:SecurityGroup", "app-vm-sg"],
      ["aws:ec2/keyPair:KeyPair", "app-vm-key"],
      ["aws:ec2/instance:Instance", "app-vm-instance"],
    ]);
    assert.equal(parentName(registered.find((r) => r.name === "app-vm")!), "app");
    const instance = byName("app-vm-instance").inputs;
    assert.equal(instance.ami, "ami-0trusty1404");
    assert.equal(instance.instanceType, "t2.micro");
  });

  test("the lifecycle starts after the files, is never replaced on change, and stops before they go", async () => {
    await evaluate(hostArgs());
    const lifecycle = registered.find((r) => r.name === "app-service-lifecycle")!;
    const deps = (lifecycle.opts.dependsOn as pulumi.Resource[]).map(
      (d) => (d as unknown as { __name: string }).__name,
    );
    assert.deepEqual(deps, ["app-job", "app-launcher", "app-hooks", "app-config"]);
    assert.equal(lifecycle.opts.deleteBeforeReplace, true);
    const inputs = byName("app-service-lifecycle").inputs;
    assert.deepEqual(
      inputs.triggers,
      ["django-project", "10.0.0.5:22"],
      "only a job rename or another host replaces it",
    );
    assert.match(
      String(inputs.update),
      /^(.*) # after [0-9a-f]{16}$/s,
      "update runs the create command, with a token of the file writes",
    );
    assert.equal(String(inputs.update).replace(/ # after [0-9a-f]+$/, ""), inputs.create);
    assert.match(String(inputs.create), /gunicorn-upstart 'apply'$/);
    assert.match(String(inputs.delete), /gunicorn-upstart 'stop'$/);
    const stop = operationOf(inputs, "stop");
    assert.equal(stop?.label, "stopping django-project");
    assert.match(stop.script, /initctl stop/);
    const spec = normalizeSpec({});
    const files = renderServiceFiles(spec, {});
    assert.equal(
      contentOf(inputs),
      renderManifest({
        job: files.job.content,
        launcher: files.launcher.content,
        gunicornConfig: files.gunicornConfig.content,
      }),
    );
  });

  test("each file is written through stdin with its owner and mode, and replaced when its path changes", async () => {
    await evaluate(hostArgs({ appEnv: { DJANGO_SETTINGS_MODULE: "mysite.settings" } }));
    const files = renderServiceFiles(normalizeSpec({}), {
      DJANGO_SETTINGS_MODULE: "mysite.settings",
    });
    for (const [role, file] of [
      ["job", files.job],
      ["launcher", files.launcher],
      ["hooks", files.hooks],
      ["config", files.gunicornConfig],
    ] as const) {
      const inputs = byName(`app-${role}-write`).inputs;
      assert.equal(contentOf(inputs), file.content, role);
      const write = operationOf(inputs, "write")!.script;
      assert.ok(write.includes(`\nOWNER='${file.owner}'\nGROUP='${file.group}'\n`), role);
      assert.ok(write.includes(`\nMODE='${file.mode}'\n`), role);
      assert.ok(
        !String(inputs.create).includes(file.content.split("\n")[2]!),
        `${role}: no content in the command`,
      );
      assert.deepEqual(inputs.triggers, [file.path, "10.0.0.5:22"]);
      assert.equal(
        registered.find((r) => r.name === `app-${role}-write`)!.opts.deleteBeforeReplace,
        true,
        `${role}: the old file goes before the new one is written`,
      );
      assert.match(String(inputs.delete), /gunicorn-upstart 'delete'$/);
      const remove = operationOf(inputs, "delete")!.script;
      assert.ok(remove.includes(`\nFILE='${file.path}'\n`), `${role}: removes its own path`);
      assert.match(remove, /^rm -f -- "\$FILE"$/m);
    }
    assert.equal(files.gunicornConfig.mode, "0640");
    assert.equal(files.gunicornConfig.group, "user");
  });

  test("secrets stay secret: private key and secret app env are secret inputs and in no command string", async () => {
    const svc = await evaluate(
      hostArgs({ appEnv: { SECRET_KEY: pulumi.secret(SECRET_VALUE), PLAIN: "x" } }),
    );
    for (const r of recorded.filter((x) => x.type === "command:remote:Command")) {
      assert.ok(isMarkedSecret(r.inputs.connection), `${r.name}: connection is secret`);
      for (const key of ["create", "update", "delete"]) {
        assert.ok(!isMarkedSecret(r.inputs[key]), `${r.name}.${key} stays readable in previews`);
        assert.ok(!String(r.inputs[key]).includes(SECRET_VALUE), `${r.name}.${key} has no secret`);
        assert.ok(
          !String(r.inputs[key]).includes("private-key-material"),
          `${r.name}.${key} has no key`,
        );
      }
    }
    assert.ok(isMarkedSecret(byName("app-config-write").inputs.stdin), "config content is secret");
    assert.ok(
      isMarkedSecret(byName("app-service-lifecycle").inputs.stdin),
      "its hash manifest too",
    );
    assert.ok(!isMarkedSecret(byName("app-job-write").inputs.stdin), "the job file stays readable");
    assert.ok(
      !isMarkedSecret(byName("app-launcher-write").inputs.stdin),
      "the launcher stays readable",
    );
    assert.equal(await pulumi.isSecret(svc.gunicornConfigFile), true);
    assert.equal(await pulumi.isSecret(svc.jobFile), false);
    assert.equal(await pulumi.isSecret(svc.url), false);
    assert.match(
      (await valueOf(svc.gunicornConfigFile)).content,
      /"SECRET_KEY=s3cret-django-key-%\$'\\""/,
    );
  });

  test("the VM's private key is secret in every connection", async () => {
    await evaluate(vmArgs());
    for (const r of recorded.filter((x) => x.type === "command:remote:Command")) {
      assert.ok(isMarkedSecret(r.inputs.connection), r.name);
      const conn = unwrapSecret(r.inputs.connection) as Record<string, unknown>;
      assert.equal(conn.host, INSTANCE_IP);
      assert.equal(conn.user, "ubuntu");
      assert.ok(Number(conn.dialErrorLimit) >= 60, "enough dial retries for a fresh instance");
    }
  });

  test("outputs: address, URL, job name and every file's path and content", async () => {
    const svc = await evaluate(vmArgs({ bind: "0.0.0.0:8000", job: "site" }));
    assert.equal(await valueOf(svc.publicAddress), INSTANCE_IP);
    assert.equal(await valueOf(svc.url), `http://${INSTANCE_IP}:8000/`);
    assert.equal(await valueOf(svc.jobName), "site");
    const files = renderServiceFiles(normalizeSpec({ bind: "0.0.0.0:8000", job: "site" }), {});
    assert.deepEqual(await valueOf(svc.jobFile), {
      path: "/etc/init/site.conf",
      content: files.job.content,
    });
    assert.deepEqual(await valueOf(svc.launcherFile), {
      path: files.launcher.path,
      content: files.launcher.content,
    });
    assert.deepEqual(await valueOf(svc.gunicornConfigFile), {
      path: "/etc/gunicorn/site.conf.py",
      content: files.gunicornConfig.content,
    });
    assert.equal(
      await valueOf(svc.status),
      "gunicorn-upstart: django-project: start (master pid 4242)",
    );
  });

  test("bad plain input fails in the constructor with a ResourceError naming the field, before any child exists", () => {
    for (const [args, message] of [
      [
        hostArgs({ workers: 0 }),
        /app: invalid 'workers': expected a whole number from 1 to 1024 or "auto", got 0/,
      ],
      [hostArgs({ bind: "localhost" }), /invalid 'bind': .*HOST:PORT/],
      [hostArgs({ user: "root; rm -rf /" }), /invalid 'user'/],
      [hostArgs({ logFile: "logs/app.log" }), /invalid 'logFile': .*not absolute/],
      [hostArgs({ logLevel: "loud" as "info" }), /invalid 'logLevel': expected one of debug, info/],
      [{ ...hostArgs(), ...vmArgs() }, /exactly one of 'host' .* and 'vm'/],
      [{}, /exactly one of 'host' .* and 'vm'/],
    ] as const) {
      reset();
      assert.throws(
        () => new GunicornService("app", args, { transformations: [recorder] }),
        (e: unknown) => e instanceof pulumi.ResourceError && message.test(e.message),
      );
      assert.deepEqual(
        registered.filter((r) => r.name !== "app").map((r) => r.name),
        [],
        "no child",
      );
    }
  });

  test("nginx with a certificate from the stack: certificate and key written first (the key a secret), then the site", async () => {
    const KEY = "-----BEGIN PRIVATE KEY-----\nsite-key-material\n-----END PRIVATE KEY-----\n";
    const CERT = "-----BEGIN CERTIFICATE-----\nsite-cert\n-----END CERTIFICATE-----\n";
    const svc = await evaluate(
      hostArgs({
        nginx: true,
        serverName: "www.example.com",
        tls: "certificate",
        tlsCertificate: CERT,
        tlsKey: KEY,
      }),
    );
    const key = byName("app-nginx-tls-key-write");
    assert.ok(isMarkedSecret(key.inputs.stdin), "the key is a secret input");
    assert.equal(contentOf(key.inputs), KEY);
    assert.equal(
      (key.inputs.triggers as string[])[0],
      "/etc/gunicorn-upstart/tls/django-project.key",
    );
    assert.match(operationOf(key.inputs, "write")!.script, /^MODE='0600'$/m);
    assert.equal(contentOf(byName("app-nginx-tls-certificate-write").inputs), CERT);
    for (const r of recorded) {
      for (const k of ["create", "update", "delete"]) {
        assert.ok(
          !JSON.stringify(r.inputs[k] ?? "").includes("site-key-material"),
          `${r.name}.${k}`,
        );
      }
    }
    const site = byName("app-nginx-site");
    assert.match(
      contentOf(site.inputs),
      /ssl_certificate_key "\/etc\/gunicorn-upstart\/tls\/django-project\.key";/,
    );
    assert.equal(await valueOf(svc.url), "https://10.0.0.5/");
    // Without the two arguments, or with them but another tls mode: refused at once.
    for (const [extra, message] of [
      [{ tls: "certificate" }, /invalid 'tls': "certificate" needs the tlsCertificate and tlsKey/],
      [{ tls: "self-signed", tlsCertificate: CERT, tlsKey: KEY }, /so tls must be "certificate"/],
    ] as const) {
      reset();
      assert.throws(
        () => new GunicornService("app", hostArgs({ nginx: true, ...extra }), {}),
        (e: unknown) => e instanceof pulumi.ResourceError && message.test(e.message),
      );
    }
  });

  test("two evaluations of the same args give byte-identical inputs (deterministic)", async () => {
    await evaluate(vmArgs({ appEnv: { A: "1", B: "2" } }));
    const first = inputsByName();
    reset();
    await evaluate(vmArgs({ appEnv: { B: "2", A: "1" } }));
    assert.deepEqual(inputsByName(), first);
    assert.equal(
      first.size,
      21,
      "GunicornService, Vm, 7 RemoteFiles, ServiceLifecycle, 3 AWS resources, 8 commands",
    );
  });

  test("a worker-count change touches only the Gunicorn config and the lifecycle, never the VM", async () => {
    const snapshot = async (workers: number) => {
      reset();
      await evaluate(vmArgs({ workers }));
      return inputsByName();
    };
    const before = await snapshot(3);
    const after = await snapshot(5);
    assert.deepEqual([...after.keys()], [...before.keys()]);
    const changed = [...before.keys()].filter((k) => before.get(k) !== after.get(k));
    assert.deepEqual(changed.sort(), ["app-config-write", "app-service-lifecycle"]);
    const lifecycleBefore = JSON.parse(before.get("app-service-lifecycle")!);
    const lifecycleAfter = JSON.parse(after.get("app-service-lifecycle")!);
    assert.equal(
      lifecycleAfter.create,
      lifecycleBefore.create,
      "same script: an update, not a replacement",
    );
    assert.deepEqual(lifecycleAfter.triggers, lifecycleBefore.triggers);
    const manifestAfter = contentOf(lifecycleAfter as Record<string, unknown>);
    assert.match(manifestAfter, /^restart .*\nreload config=/);
    assert.equal(
      manifestAfter.split("\n")[0],
      contentOf(lifecycleBefore as Record<string, unknown>).split("\n")[0],
      "restart hashes unchanged",
    );
  });

  test("a virtualenv change rewrites the launcher and changes the restart hashes", async () => {
    reset();
    await evaluate(hostArgs());
    const before = contentOf(byName("app-service-lifecycle").inputs);
    const launcherBefore = byName("app-launcher-write").inputs.stdin;
    reset();
    await evaluate(hostArgs({ virtualenv: "/srv/venv2" }));
    const after = contentOf(byName("app-service-lifecycle").inputs);
    assert.notEqual(byName("app-launcher-write").inputs.stdin, launcherBefore);
    assert.notEqual(after.split("\n")[0], before.split("\n")[0]);
    assert.equal(after.split("\n")[1], before.split("\n")[1], "the Gunicorn config did not change");
  });

  test("with appSource the app is uploaded as a release before the lifecycle, which switches and reloads it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "app-"));
    writeFileSync(join(dir, "manage.py"), "print('hi')\n");
    const svc = await evaluate(hostArgs({ job: "site", appSource: dir }));
    const release = registered.find((r) => r.name === "app-release");
    assert.ok(release, "an AppRelease component");
    assert.equal(parentName(release), "app");
    const upload = byName("app-release-upload").inputs;
    const { id, sha256, archive } = packRelease(dir);
    assert.match(programOf(upload), new RegExp(`ID='\\\\''${id}'\\\\''`));
    assert.match(programOf(upload), new RegExp(`expected_sha256='\\\\''${sha256}'\\\\''`));
    assert.equal(upload.delete, "cat >/dev/null", "releases are app code: kept on destroy");
    // The archive is no command's input (the provider would keep it in the state, encrypted
    // and base64, as input and output): a copy of a local file carries it, the state keeps
    // the file's path and hash. The upload's stdin is its program, nothing after it.
    assert.equal(contentOf(upload), "");
    assert.ok(!isMarkedSecret(upload.stdin), "nothing secret in it");
    const copy = byName("app-release-copy");
    assert.equal(copy.type, "command:remote:CopyToRemote");
    assert.equal(parentName(registered.find((r) => r.name === "app-release-copy")!), "app-release");
    const source = (await copy.inputs.source) as pulumi.asset.FileAsset;
    const local = await source.path;
    assert.ok(readFileSync(local).equals(archive), "the asset is the packed archive");
    assert.match(local, new RegExp(`/${sha256}\\.tar\\.gz$`), "named by its hash");
    // In the SSH user's own directory, where the upload step (as root) reads it as that user.
    const uploadPath = releaseUploadPath("/srv/site");
    assert.equal(copy.inputs.remotePath, uploadPath);
    assert.ok(programOf(upload).includes(uploadPath), "where the upload step reads it");
    assert.deepEqual(copy.inputs.triggers, ["10.0.0.5:22"]);
    assert.equal(upload.create, loaderCommand("upload"), "the stock stub");
    const uploadDeps = await dependencyNames(
      registered.find((r) => r.name === "app-release-upload")!,
    );
    assert.deepEqual(uploadDeps, ["app-release-copy"], "the upload waits for the copy");
    const lifecycle = registered.find((r) => r.name === "app-service-lifecycle")!;
    const deps = (lifecycle.opts.dependsOn as pulumi.Resource[]).map(
      (d) => (d as unknown as { __name: string }).__name,
    );
    assert.ok(deps.includes("app-release"), "the lifecycle waits for the upload");
    assert.match(
      contentOf(byName("app-service-lifecycle").inputs),
      new RegExp(`\nrelease ${id}\n$`),
    );
    const launcher = await valueOf(svc.launcherFile);
    assert.equal(
      launcher.path,
      "/usr/local/lib/gunicorn-upstart/run-site.sh",
      "the launcher lives where only root can change it, outside the releases",
    );
    assert.match(launcher.content, /^PROJECTDIR='\/srv\/site\/current'$/m);
    assert.match(
      (await valueOf(svc.gunicornConfigFile)).content,
      /^chdir = "\/srv\/site\/current"$/m,
    );
    assert.equal(await valueOf(svc.release!.releaseId), id);
  });

  test("an app change changes only the release's copy and upload and the lifecycle's release line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "app-"));
    // The copy's asset as the engine compares it: by the hash of the file's content.
    const assetHash = async () => {
      const source = (await byName("app-release-copy").inputs.source) as pulumi.asset.FileAsset;
      return createHash("sha256")
        .update(readFileSync(await source.path))
        .digest("hex");
    };
    writeFileSync(join(dir, "views.py"), "v = 1\n");
    await evaluate(hostArgs({ appSource: dir }));
    const before = inputsByName();
    const hashBefore = await assetHash();
    reset();
    await evaluate(hostArgs({ appSource: dir }));
    assert.deepEqual(inputsByName(), before, "an unchanged app: the same inputs");
    assert.equal(await assetHash(), hashBefore, "and the same asset");
    reset();
    writeFileSync(join(dir, "views.py"), "v = 2\n");
    await evaluate(hostArgs({ appSource: dir }));
    const after = inputsByName();
    const changed = [...before.keys()].filter((k) => before.get(k) !== after.get(k));
    if ((await assetHash()) !== hashBefore) changed.push("app-release-copy");
    assert.deepEqual(changed.sort(), [
      "app-release-copy",
      "app-release-upload",
      "app-service-lifecycle",
    ]);
  });

  test("no command sends its previous output as environment, and every delete reads the stdin the provider pipes into it", async () => {
    // The provider sets PULUMI_COMMAND_STDOUT/STDERR on every update and delete unless told
    // not to (a stock sshd refuses them, with a warning), and pipes the stored stdin into
    // delete too (a delete that leaves 2 MB or more unread fails with EOF).
    const dir = mkdtempSync(join(tmpdir(), "app-"));
    writeFileSync(join(dir, "manage.py"), "print('hi')\n");
    const svc = await evaluate(
      hostArgs({ appSource: dir, prepareHost: true, pythonEnv: { requirements: "Django\n" } }),
    );
    const commands = recorded.filter((r) => r.type === "command:remote:Command");
    assert.equal(commands.length, 11);
    for (const c of commands) {
      assert.equal(c.inputs.addPreviousOutputInEnv, false, c.name);
      // A loaded program's step runner reads what its script left; any other delete reads first.
      if (programOf(c.inputs) !== "")
        assert.match(programOf(c.inputs), /^ {2}cat >\/dev\/null \|\| true$/m);
      else assert.match(String(c.inputs.delete), /^cat >\/dev\/null(; |$)/, c.name);
    }
    // Outputs of a command with a secret connection are secret; these carry no secret.
    for (const [what, output] of [
      ["status", svc.status],
      ["releaseId", svc.release!.releaseId],
      ["job path", svc.jobFile.apply((f) => f.path)],
    ] as const) {
      assert.equal(await pulumi.isSecret(output), false, `${what} is readable`);
    }
  });

  test("processes and schedules: their files after the host's preparation, their lifecycles after the web's; the manifest secret with a secret appEnv", async () => {
    const dir = mkdtempSync(join(tmpdir(), "app-"));
    writeFileSync(join(dir, "manage.py"), "print('hi')\n");
    const svc = await evaluate(
      hostArgs({
        appSource: dir,
        prepareHost: true,
        appEnv: { SECRET_KEY: pulumi.secret("s3cret") },
        processes: { worker: "python -m celery -A mysite worker" },
        schedules: { clear: { command: "python manage.py clearsessions", schedule: "daily" } },
      }),
    );
    const deps = (name: string) =>
      ((registered.find((r) => r.name === name)!.opts.dependsOn ?? []) as pulumi.Resource[]).map(
        (d) => (d as unknown as { __name: string }).__name,
      );
    assert.deepEqual(deps("app-process-worker-job"), ["app-host"]);
    assert.deepEqual(deps("app-process-worker-launcher"), ["app-host"]);
    assert.deepEqual(deps("app-process-worker-lifecycle"), [
      "app-process-worker-job",
      "app-process-worker-launcher",
      "app-service",
    ]);
    assert.deepEqual(deps("app-schedule-clear-cron"), ["app-host"]);
    assert.deepEqual(deps("app-schedule-clear-lifecycle"), [
      "app-schedule-clear-runner",
      "app-schedule-clear-cron",
      "app-service",
    ]);
    const lifecycle = byName("app-process-worker-lifecycle").inputs;
    assert.ok(isMarkedSecret(lifecycle.stdin), "the manifest hashes a secret: kept secret");
    assert.doesNotMatch(JSON.stringify(unwrapSecret(lifecycle.stdin)), /s3cret/);
    assert.equal(svc.processes.length, 1);
    assert.equal(svc.schedules.length, 1);
    assert.match(contentOf(byName("app-process-worker-job-write").inputs), /^setuid user$/m);
  });

  test("on a bare host: setup, then the virtualenv, then the files and the release, then the service", async () => {
    const dir = mkdtempSync(join(tmpdir(), "app-"));
    writeFileSync(join(dir, "manage.py"), "print('hi')\n");
    await evaluate(
      hostArgs({
        appSource: dir,
        prepareHost: true,
        pythonEnv: { requirements: "Django>=4\n", systemSitePackages: true },
      }),
    );
    const deps = (name: string) =>
      ((registered.find((r) => r.name === name)!.opts.dependsOn ?? []) as pulumi.Resource[]).map(
        (d) => (d as unknown as { __name: string }).__name,
      );
    assert.deepEqual(deps("app-host-prepare"), []);
    assert.deepEqual(deps("app-python-install"), ["app-host"]);
    for (const write of [
      "app-job-write",
      "app-launcher-write",
      "app-hooks-write",
      "app-logrotate-write",
      "app-manage-write",
      "app-logs-write",
      "app-release-copy",
    ]) {
      assert.deepEqual(deps(write), ["app-host"], `${write} waits for the user and group`);
    }
    // The config runs the hooks' module: it is written after it.
    assert.deepEqual(deps("app-config-write"), ["app-host", "app-hooks"]);
    assert.deepEqual(deps("app-release-upload"), ["app-release-copy"]);
    assert.deepEqual(deps("app-service-lifecycle"), [
      "app-job",
      "app-launcher",
      "app-hooks",
      "app-config",
      "app-release",
      "app-python",
    ]);
    const prepare = programOf(byName("app-host-prepare").inputs);
    // The packages default by init, as in the stack (Upstart: Ubuntu 14.04's python3.4-venv).
    assert.match(prepare, /PACKAGES=\('\\''python3'\\'' '\\''python3\.4-venv'\\''\)/);
    assert.match(prepare, /useradd --system/);
    assert.equal(
      byName("app-host-prepare").inputs.delete,
      "cat >/dev/null",
      "users, packages and directories are kept",
    );
    const python = byName("app-python-install").inputs;
    assert.equal(contentOf(python), "Django>=4\n");
    assert.match(
      operationOf(python, "install")!.script,
      /^VENV_OPTIONS=\('--system-site-packages'\)$/m,
    );
  });

  test("the virtualenv step runs again only when the requirements or the interpreter change", async () => {
    const snapshot = async (extra: Partial<GunicornServiceArgs>) => {
      reset();
      await evaluate(hostArgs({ pythonEnv: { requirements: "Django>=4\n" }, ...extra }));
      return inputsByName();
    };
    const base = await snapshot({});
    const changed = (other: Map<string, string>) =>
      [...base.keys()].filter((k) => base.get(k) !== other.get(k)).sort();
    assert.deepEqual(changed(await snapshot({ workers: 5 })), [
      "app-config-write",
      "app-service-lifecycle",
    ]);
    assert.deepEqual(changed(await snapshot({ pythonEnv: { requirements: "Django>=5\n" } })), [
      "app-python-install",
    ]);
    assert.deepEqual(
      changed(await snapshot({ pythonEnv: { requirements: "Django>=4\n", python: "python3.12" } })),
      ["app-python-install"],
    );
  });

  test("with init systemd it writes a unit, drives it with systemctl, and its VM runs Ubuntu 24.04", async () => {
    await evaluate(vmArgs({ init: "systemd", job: "shop" }));
    const job = byName("app-job-write");
    assert.deepEqual(job.inputs.triggers, ["/etc/systemd/system/shop.service", "203.0.113.10:22"]);
    assert.match(contentOf(job.inputs), /^\[Service\]$/m);
    assert.match(contentOf(job.inputs), /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    // Removing the unit makes systemd forget it.
    const remove = operationOf(job.inputs, "delete")!.script;
    assert.match(remove, /^SYSTEMD_RELOAD=1$/m);
    assert.match(remove, /systemctl daemon-reload/);
    const lifecycle = programOf(byName("app-service-lifecycle").inputs);
    for (const word of ["systemctl enable --now", "systemctl reload", "systemctl restart"]) {
      assert.ok(lifecycle.includes(word), word);
    }
    assert.doesNotMatch(lifecycle, /initctl/);
    assert.match(
      operationOf(byName("app-service-lifecycle").inputs, "stop")!.script,
      /systemctl disable --now/,
    );
    const lookup = calls.find((c) => c.token === "aws:ec2/getAmiIds:getAmiIds")!;
    assert.match(JSON.stringify(lookup.inputs.filters), /ubuntu-noble-24\.04/);
  });

  test("switching the init touches only the service's files and lifecycle, never the host", async () => {
    const snapshot = async (init: "upstart" | "systemd") => {
      reset();
      await evaluate(hostArgs({ init }));
      return inputsByName();
    };
    const upstart = await snapshot("upstart");
    const systemd = await snapshot("systemd");
    const changed = [...upstart.keys()].filter((k) => upstart.get(k) !== systemd.get(k)).sort();
    // The job file is another file at another path; launcher, config, logrotate rule and manage
    // command name the init in their header comment.
    assert.deepEqual(changed, [
      "app-config-write",
      "app-job-write",
      "app-launcher-write",
      "app-logrotate-write",
      "app-logs-write",
      "app-manage-write",
      "app-service-lifecycle",
    ]);
  });

  describe('with sudo "helper"', () => {
    const helperArgs = (extra: Partial<GunicornServiceArgs> = {}) =>
      hostArgs({ sudo: "helper", setuid: "user", setgid: "user", ...extra });

    test("every command is one operation of the job's helper; no script runs with sudo", async () => {
      const dir = mkdtempSync(join(tmpdir(), "app-"));
      writeFileSync(join(dir, "manage.py"), "print('hi')\n");
      const svc = await evaluate(helperArgs({ appSource: dir }));
      const spec = normalizeSpec({
        sudo: "helper",
        setuid: "user",
        setgid: "user",
        releases: true,
      });
      const helper = renderSudoHelper(spec);
      const commands = recorded.filter((r) => r.type === "command:remote:Command");
      assert.equal(commands.length, 9);
      const call =
        /^if \[ "\$\(id -u\)" -eq 0 \]; then set --; else set -- sudo -n; fi; exec "\$@" '\/usr\/local\/sbin\/gunicorn-upstart-django-project' '([0-9a-f]{16})' '([a-z-]+)'((?: '(?:[0-9a-f]+|\/[\w./-]+)')*)$/;
      const seen: string[] = [];
      for (const c of commands) {
        for (const key of ["create", "update", "delete"] as const) {
          // Deletes read the stored stdin first; the lifecycle's update carries write tokens.
          const text = String(c.inputs[key])
            .replace(/^cat >\/dev\/null(; )?/, "")
            .replace(/ # after [0-9a-f ]+$/, "");
          if (c.name.endsWith("-upload") && key === "delete") {
            assert.equal(text, "", "releases are kept on destroy");
            continue;
          }
          const m = call.exec(text);
          assert.ok(m, `${c.name} ${key} is not a helper call: ${text}`);
          assert.equal(m[1], helper.shape);
          assert.ok(helper.operations.includes(m[2] as string), m[2]);
          seen.push(`${c.name} ${key} ${m[2]}${m[3]}`.replace(/'/g, ""));
        }
      }
      const cfg = Buffer.byteLength(renderServiceFiles(spec, {}).gunicornConfig.content);
      assert.ok(seen.includes(`app-config-write create write-config ${cfg}`), seen.join("\n"));
      // A delete names the path its resource wrote: a later helper removes it only if it
      // manages or recorded that path.
      assert.ok(seen.includes("app-job-write delete delete-job /etc/init/django-project.conf"));
      assert.ok(seen.includes("app-service-lifecycle create apply"));
      assert.ok(seen.includes("app-service-lifecycle delete stop"));
      assert.ok(
        seen.some((l) =>
          /^app-release-upload create upload-release [0-9a-f]{16} [0-9a-f]{64}$/.test(l),
        ),
      );
      const out = await valueOf(svc.sudoHelper);
      assert.deepEqual(out, { path: helper.path, content: helper.content });
    });

    test("a worker change keeps the helper's shape (no reinstall); a bind change does not", async () => {
      const shapeOf = async (extra: Partial<GunicornServiceArgs>) => {
        reset();
        await evaluate(helperArgs(extra));
        return /' '([0-9a-f]{16})' 'apply'/.exec(
          String(byName("app-service-lifecycle").inputs.create),
        )?.[1];
      };
      const base = await shapeOf({});
      assert.equal(await shapeOf({ workers: 9 }), base);
      assert.notEqual(await shapeOf({ bind: "127.0.0.1:9000" }), base);
    });

    test("with a root setuid, or with host preparation, it fails before any child exists", () => {
      const cases: [Partial<GunicornServiceArgs>, RegExp][] = [
        [{ setuid: "root" }, /invalid 'setuid': sudo "helper" needs setuid/],
        [{ prepareHost: true }, /invalid 'sudo': "helper" cannot run prepareHost:/],
        [{ pythonEnv: {} }, /invalid 'sudo': "helper" cannot run pythonEnv:/],
      ];
      for (const [extra, message] of cases) {
        reset();
        assert.throws(
          () => new GunicornService("bad", helperArgs(extra), { transformations: [recorder] }),
          (e: unknown) => e instanceof pulumi.ResourceError && message.test(e.message),
        );
        assert.deepEqual(
          registered.map((r) => r.name),
          ["bad"],
        );
      }
    });
  });
});

// The stack program and `npm run pulumi` on the real Pulumi CLI (v3.274.1, built from the Go
// module proxy by scripts/toolchain.sh) with its real Node.js language host: config and its
// secrets, the project's config schema, the program's errors at preview, and how far
// `preview` gets. Each test works in a copy of the project with its own state directory.
//
// How far it gets is the limit of this machine: every resource of the stack is a
// @pulumi/command Command, and the command provider cannot be had here (the Go module proxy
// refuses it, see scripts/toolchain.sh), so the engine stops at the first command, and the
// lifecycle runs on the replay (test/integration/replay.ts) instead.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test\n-----END OPENSSH PRIVATE KEY-----";

let project: string;

/** `npm run pulumi -- args` in the copy, as a user runs it. */
function pulumi(args: string[], input?: string) {
  const r = spawnSync("bash", [join(project, "scripts/pulumi.sh"), ...args], {
    cwd: project,
    encoding: "utf8",
    input: input ?? "",
    timeout: 300_000,
    env: { ...process.env, STACK: "ci", PULUMI_STATE_DIR: join(project, ".pulumi-state") },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, all: r.stdout + r.stderr };
}

describe("the stack program on the real Pulumi CLI", { timeout: 600_000 }, () => {
  before(() => {
    project = mkdtempSync(join(tmpdir(), "stack-"));
    for (const entry of ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts"]) {
      cpSync(join(ROOT, entry), join(project, entry));
    }
    cpSync(join(ROOT, "components"), join(project, "components"), { recursive: true });
    cpSync(join(ROOT, "examples/hello-django"), join(project, "examples/hello-django"), {
      recursive: true,
    });
    symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
    symlinkSync(join(ROOT, "scripts"), join(project, "scripts"));
  });
  after(() => rmSync(project, { recursive: true, force: true }));

  test("npm run pulumi runs the pinned CLI", () => {
    const r = pulumi(["version"]);
    assert.equal(r.status, 0, r.all);
    assert.equal(r.stdout.trim(), "v3.274.1");
  });

  test("two toolchain runs at once both finish, the second waiting on the lock, and agree", async () => {
    const run = () =>
      new Promise<{ status: number | null; out: string }>((done) => {
        const child = spawn("bash", [join(ROOT, "scripts/toolchain.sh")], { stdio: "pipe" });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.on("close", (status) => done({ status, out }));
      });
    const [a, b] = await Promise.all([run(), run()]);
    // 3: the CLI is ready, the command provider cannot be had here (see the top of the file).
    for (const r of [a, b]) assert.ok(r.status === 0 || r.status === 3, `status ${r.status}`);
    assert.equal(a.out.trim().split("\n").pop(), b.out.trim().split("\n").pop());
  });

  test("a secret config value is encrypted with a generated passphrase, never plaintext on disk", () => {
    const set = pulumi(["config", "set", "--secret", "sshPrivateKey"], KEY);
    assert.equal(set.status, 0, set.all);
    const passphrase = join(project, ".pulumi-state/passphrase");
    assert.ok(readFileSync(passphrase, "utf8").trim().length >= 40, "a generated passphrase");
    assert.equal(
      spawnSync("stat", ["-c", "%a", passphrase], { encoding: "utf8" }).stdout.trim(),
      "600",
    );
    const stackFile = readFileSync(join(project, "Pulumi.ci.yaml"), "utf8");
    assert.match(stackFile, /gunicorn-upstart:sshPrivateKey:\n\s+secure: v1:/);
    assert.doesNotMatch(stackFile, /PRIVATE KEY/);
    const exported = pulumi(["stack", "export", "--show-secrets=false"]);
    assert.equal(exported.status, 0, exported.all);
    assert.doesNotMatch(exported.stdout, /PRIVATE KEY/);
    const back = pulumi(["config", "get", "sshPrivateKey"]);
    assert.equal(back.stdout.trim(), KEY, "and it decrypts");
  });

  test("bad config fails the preview with the program's message naming the key, before any resource", () => {
    pulumi(["config", "set", "host", "127.0.0.1"]);
    pulumi(["config", "set", "workers", "0"]);
    try {
      const r = pulumi(["preview", "--non-interactive"]);
      assert.notEqual(r.status, 0);
      assert.match(r.all, /error: config: invalid 'workers': expected a whole number .* got "0"/);
      assert.doesNotMatch(r.all, /gunicorn-upstart:index:GunicornService/);
    } finally {
      pulumi(["config", "rm", "workers"]);
    }
  });

  test("the project's config schema passes the CLI, and the program runs up to its first command", () => {
    // Before template.config held the optional keys, the CLI stopped here with "Stack 'ci' is
    // missing configuration values 'ami', 'appEnv', ...".
    const r = pulumi(["preview", "--non-interactive"]);
    assert.doesNotMatch(r.all, /missing configuration values/);
    assert.match(r.all, /gunicorn-upstart:index:GunicornService\s+app\s+create/);
    assert.match(r.all, /gunicorn-upstart:index:ServiceLifecycle\s+app-service\s+create/);
    // The limit of this machine, said plainly: no command provider.
    assert.match(r.all, /no resource plugin 'pulumi-resource-command' found/);
    assert.notEqual(r.status, 0);
  });
});

// Python and YAML programs on the package (plugin/), as their users run them: the real CLI
// (scripts/toolchain.sh's), real language hosts, the real command provider and a real test
// host (OpenSSH, sudo, bash, Python venv and pip, Gunicorn, Django; Upstart played by
// test/host/initctl). The examples (examples/yaml, examples/python) are copied with plugin/,
// components/ and the demo app into a scratch directory, so the repository stays clean.
//
// What each needs, and where it comes from (docs/programs.md, Prerequisites):
// - the command provider 1.2.1 (as for every real-engine test);
// - a current Node.js language host on PATH: the plugin is a Node.js source-based plugin, and
//   the toolchain's own host (sdk v3.68.0, the newest the Go module proxy serves) predates
//   them; the proxy refuses the current host's module, so a machine has one only where its
//   owner installed it (built from pulumi/pulumi's sdk/nodejs/cmd/pulumi-language-nodejs);
// - YAML: a YAML language host (the toolchain builds v1.32.0 from the Go module proxy);
// - Python: pulumi-language-python and pulumi-language-python-exec on PATH (the proxy refuses
//   that module too), and PyPI for the program's virtualenv (the `pulumi` package).
// Where one is missing, the test is skipped and says which.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parse } from "yaml";
import { freePort } from "../helpers/freePort";
import { startTestHost, type TestHost } from "../integration/testHost";
import { assertKeyNotIn, cliIn, commandProviderMissing, TOOLCHAIN, which } from "./realCli";

const ROOT = resolve(__dirname, "../..");

/** Why a program of `language` cannot run here, or undefined when it can. */
function missing(language: "yaml" | "python"): string | undefined {
  const why: string[] = [];
  const provider = commandProviderMissing();
  if (provider !== undefined) why.push(provider);
  const nodejs = which("pulumi-language-nodejs");
  if (nodejs === undefined || nodejs.startsWith(`${TOOLCHAIN.cache}/`)) {
    why.push(
      `a current Node.js language host on PATH (${nodejs ?? "none"}: the toolchain's sdk v3.68.0 host cannot run a source-based plugin)`,
    );
  }
  if (language === "yaml" && which("pulumi-language-yaml") === undefined) {
    why.push("the YAML language host (the toolchain builds it from the Go module proxy)");
  }
  if (language === "python") {
    for (const bin of ["pulumi-language-python", "pulumi-language-python-exec"]) {
      if (which(bin) === undefined) why.push(`${bin} on PATH`);
    }
  }
  return why.length === 0 ? undefined : `needs ${why.join("; ")}`;
}

const SKIP = { yaml: missing("yaml"), python: missing("python") };
process.stdout.write(
  `# YAML program: ${SKIP.yaml ?? "runs"}\n# Python program: ${SKIP.python ?? "runs"}\n`,
);

let scratch: string;
let host: TestHost;

let pulumi: ReturnType<typeof cliIn>["run"];
let ok: ReturnType<typeof cliIn>["ok"];

/** A stack of the program in `dir` aimed at the test host. */
function stackFor(dir: string, port: number) {
  ok(dir, ["stack", "init", "test"]);
  ok(dir, ["config", "set", "host", "127.0.0.1"]);
  ok(dir, ["config", "set", "sshPort", String(host.port)]);
  ok(dir, ["config", "set", "sshUser", host.user]);
  ok(dir, ["config", "set", "--secret", "sshPrivateKey"], host.privateKey);
  ok(dir, ["config", "set", "init", "upstart"]); // the test host's init (the stand-in)
  ok(dir, ["config", "set", "port", String(port)]);
  // The test host is Debian: the packages of the init (Upstart's are Ubuntu 14.04's) would not
  // be found.
  ok(dir, ["config", "set", "--path", "hostPackages[0]", "python3"]);
  ok(dir, ["config", "set", "--path", "hostPackages[1]", "python3-venv"]);
}

/** The private key's body is nowhere in the stack's state. */
function assertKeyNotInState(dir: string) {
  assertKeyNotIn(ok(dir, ["stack", "export"]), host.privateKey);
}

async function page(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/`)).text();
}

/** After destroy: the service is gone, and what is the user's (logs, releases) is not. */
function assertGone(port: number) {
  assert.equal(host.mainPid("hello"), undefined, "no master runs");
  assert.equal(host.root(`test -e ${host.initFile("hello")}`).status, 1, "the job file is gone");
  assert.equal(host.root("test -s /var/log/hello/gunicorn.log").status, 0, "the log stays");
  return fetch(`http://127.0.0.1:${port}/`).then(
    () => assert.fail("the port still answers"),
    () => undefined,
  );
}

describe("Python and YAML programs on the package", { timeout: 1_800_000 }, () => {
  before(async () => {
    if (SKIP.yaml !== undefined && SKIP.python !== undefined) return;
    scratch = mkdtempSync(join(tmpdir(), "programs-"));
    const skip = new Set(["node_modules", "bin", "venv", "sdks"]);
    for (const part of ["components", "plugin", "examples", "tsconfig.json"]) {
      cpSync(join(ROOT, part), join(scratch, part), {
        recursive: true,
        filter: (src) => !skip.has(basename(src)) && !/^Pulumi\..+\.yaml$/.test(basename(src)),
      });
    }
    mkdirSync(join(scratch, "state"));
    ({ run: pulumi, ok } = cliIn(scratch));
    host = await startTestHost("");
  });
  after(() => {
    host?.stop();
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  test(
    "the YAML example: install, up (the demo answers), destroy",
    { skip: SKIP.yaml },
    async () => {
      const port = await freePort();
      stackFor("examples/yaml", port);
      ok("examples/yaml", ["install"]);
      const up = ok("examples/yaml", ["up", "--yes", "--skip-preview"]);
      assert.match(up, /hello: start \(master pid \d+\)/);
      assert.match(await page(port), /Hello from Django on Gunicorn/);
      const state = ok("examples/yaml", ["stack", "export"]);
      assert.ok(!state.includes(host.privateKey.split("\n")[1]!), "the key is not in the state");
      ok("examples/yaml", ["destroy", "--yes", "--skip-preview"]);
      await assertGone(port);
    },
  );

  test(
    "a Python program: package add, up, a workers change that reloads, a bad value refused at preview, destroy",
    { skip: SKIP.python },
    async () => {
      // A fresh program as docs/programs.md has a Python user write it: the example's __main__.py,
      // without the package yet.
      const dir = "examples/python";
      const example = parse(readFileSync(join(ROOT, dir, "Pulumi.yaml"), "utf8")) as {
        packages: Record<string, string>;
      };
      const fresh = { ...example } as Record<string, unknown>;
      delete fresh.packages;
      writeFileSync(join(scratch, dir, "Pulumi.yaml"), JSON.stringify(fresh));
      writeFileSync(join(scratch, dir, "requirements.txt"), "pulumi>=3.260.0,<4.0.0\n");
      const port = await freePort();
      stackFor(dir, port);

      const added = ok(dir, ["package", "add", "../../plugin"]);
      assert.match(added, /import pulumi_gunicorn_upstart/);
      // What `package add` wrote is what the example holds.
      const written = parse(readFileSync(join(scratch, dir, "Pulumi.yaml"), "utf8")) as {
        packages: Record<string, string>;
      };
      assert.deepEqual(written.packages, example.packages);
      assert.equal(
        readFileSync(join(scratch, dir, "requirements.txt"), "utf8"),
        readFileSync(join(ROOT, dir, "requirements.txt"), "utf8"),
      );

      const up = ok(dir, ["up", "--yes", "--skip-preview"]);
      assert.match(up, /hello: start \(master pid \d+\)/);
      assert.match(await page(port), /Hello from Django on Gunicorn/);
      const master = host.mainPid("hello");
      assert.ok(master !== undefined);
      assertKeyNotInState(dir);

      ok(dir, ["config", "set", "workers", "3"]);
      const preview = ok(dir, ["preview"]);
      assert.match(preview, /~\s+command:remote:Command hello-config-write update/);
      assert.match(preview, /~\s+command:remote:Command hello-service-lifecycle update/);
      assert.match(preview, /2 to update/);
      const reload = ok(dir, ["up", "--yes", "--skip-preview"]);
      assert.match(reload, new RegExp(`hello: reload \\(master pid ${master}\\)`));
      assert.equal(host.mainPid("hello"), master, "the same master: a reload, not a restart");
      const workers = host.rootOk(`pgrep -P ${master} | wc -l`).trim();
      assert.equal(workers, "3", "three workers after the reload");

      ok(dir, ["config", "set", "workers", "lots"]);
      const refused = pulumi(dir, ["preview"]);
      assert.notEqual(refused.status, 0);
      assert.match(
        refused.all,
        /hello: invalid 'workers': expected a whole number from 1 to 1024 or "auto", got "lots"/,
      );
      // The reason comes before Python's traceback of the aborted registration.
      assert.ok(refused.all.indexOf("invalid 'workers'") < refused.all.indexOf("Traceback"));
      assert.equal(host.mainPid("hello"), master, "nothing on the host changed");

      ok(dir, ["config", "set", "workers", "3"]);
      ok(dir, ["destroy", "--yes", "--skip-preview"]);
      await assertGone(port);
    },
  );
});

// scripts/toolchain.sh's ways of getting the command provider, in its order: the plugin
// already installed; a pulumi-resource-command on PATH; `pulumi plugin install` (Pulumi's
// plugin downloads, bounded in time); a build from the Go module proxy; else status 3. A
// download or module refused is not asked for again for a day: every `npm run pulumi` runs
// the script. The CLI and `go` are stand-ins (test/fixtures/toolchain/) that record what they
// are asked and answer as this project's machines do (the download and the module refused),
// or as a machine whose downloads work; each test has its own cache and PULUMI_HOME. The real
// CLI's run of the same script is in stackProgram.test.ts.
import { test, describe, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const FAKES = join(ROOT, "test/fixtures/toolchain");

let dir: string;

function toolchain(env: Record<string, string> = {}, extraPath: string[] = []) {
  const started = Date.now();
  const r = spawnSync("bash", [join(ROOT, "scripts/toolchain.sh")], {
    encoding: "utf8",
    timeout: 60_000,
    env: {
      HOME: dir,
      PATH: [...extraPath, FAKES, "/usr/bin", "/bin"].join(":"),
      GUNICORN_UPSTART_CACHE: join(dir, "cache"),
      PULUMI_HOME: join(dir, "home"),
      GO: "go",
      ...env,
    },
  });
  return { status: r.status, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
}

/** What the stand-ins were asked, in order, since the last call. */
let seen = 0;
function calls(): string[] {
  const file = join(dir, "home/calls");
  const all = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
  const fresh = all.slice(seen);
  seen = all.length;
  return fresh;
}

/** The refusal files of the cache: name → path. */
function refusals(): Record<string, string> {
  const toolchains = join(dir, "cache/toolchain");
  const [key] = readdirSync(toolchains);
  const command = join(toolchains, key!, "src/command");
  return { download: join(command, "download-refused"), module: join(command, "refused") };
}

describe("the toolchain's command provider", () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "toolchain-"));
    seen = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("where both are refused: status 3, and a second run asks neither the downloads nor the Go module proxy again", () => {
    const first = toolchain();
    assert.equal(first.status, 3, first.stderr);
    assert.deepEqual(calls(), ["download", "go install"], "the download first, then the build");
    assert.match(first.stderr, /the download failed \(not tried again until tomorrow/);
    assert.match(first.stderr, /lookup get\.pulumi\.com: no such host/);
    assert.match(first.stderr, /pulumi plugin install resource command 1\.2\.1/);

    const second = toolchain();
    assert.equal(second.status, 3, second.stderr);
    assert.deepEqual(calls(), [], "nothing asked again");
    assert.match(
      second.stderr,
      /Pulumi's plugin downloads refused the command provider 1\.2\.1 earlier today/,
    );
    assert.match(
      second.stderr,
      /the Go module proxy .* refused the command provider 1\.2\.1 earlier today/,
    );

    // What every `npm run pulumi` runs: one line, nothing asked.
    const quiet = toolchain({ TOOLCHAIN_QUIET: "1" });
    assert.equal(quiet.status, 3, quiet.stderr);
    assert.deepEqual(calls(), []);
    assert.match(quiet.stderr, /no command provider 1\.2\.1: `pulumi preview` and `up`/);
    assert.doesNotMatch(quiet.stderr, /earlier today/);
  });

  test("a refusal from yesterday is asked again", () => {
    assert.equal(toolchain().status, 3);
    calls();
    const dayAgo = new Date(Date.now() - 25 * 3600_000);
    for (const file of Object.values(refusals())) utimesSync(file, dayAgo, dayAgo);
    assert.equal(toolchain().status, 3);
    assert.deepEqual(calls(), ["download", "go install"]);
  });

  test("where the plugin downloads work, the provider is downloaded and nothing is built; the next run only checks", () => {
    const first = toolchain({ FAKE_DOWNLOAD: "ok" });
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(calls(), ["download"]);
    assert.match(first.stderr, /downloaded and installed the command provider 1\.2\.1/);
    assert.equal(toolchain({ FAKE_DOWNLOAD: "ok" }).status, 0);
    assert.deepEqual(calls(), [], "already installed");
  });

  test("a pulumi-resource-command on PATH comes before any download", () => {
    const bin = join(dir, "provider-bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "pulumi-resource-command"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const r = toolchain({ FAKE_DOWNLOAD: "ok" }, [bin]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(calls(), [`file ${join(bin, "pulumi-resource-command")}`]);
  });

  test("a download that never answers is cut at TOOLCHAIN_DOWNLOAD_TIMEOUT and not tried again today", () => {
    const r = toolchain({ FAKE_DOWNLOAD: "hang", TOOLCHAIN_DOWNLOAD_TIMEOUT: "2" });
    assert.equal(r.status, 3, r.stderr);
    assert.ok(r.seconds < 20, `${r.seconds} s`);
    assert.deepEqual(calls(), ["download", "go install"]);
    assert.match(readFileSync(refusals().download!, "utf8"), /no answer in 2 s \(timeout\)/);
    assert.equal(toolchain({ FAKE_DOWNLOAD: "hang" }).status, 3);
    assert.deepEqual(calls(), []);
  });
});

describe("the toolchain's language hosts", () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "toolchain-"));
    seen = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A toolchain run with `path` as PATH (the stand-ins' directory by default). */
  function withPath(path = [FAKES, "/usr/bin", "/bin"]) {
    const r = spawnSync("bash", [join(ROOT, "scripts/toolchain.sh")], {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        HOME: dir,
        PATH: path.join(":"),
        GUNICORN_UPSTART_CACHE: join(dir, "cache"),
        PULUMI_HOME: join(dir, "home"),
        FAKE_DOWNLOAD: "ok",
      },
    });
    assert.equal(r.status, 0, r.stderr);
    return r;
  }

  /** The PATH the toolchain prints on its last line of stdout. */
  function printedPath(): string[] {
    return withPath().stdout.trim().split("\n").pop()!.split(":");
  }

  test("hosts on PATH are used, and none of ours is put before them", () => {
    const path = printedPath();
    assert.ok(!path.some((d) => /\/(nodejs|yaml)-bin$/.test(d)), path.join(":"));
    assert.deepEqual(calls(), ["download"], "no language host built");
  });

  test("without a YAML host on PATH, one is built from the Go module proxy; refused, YAML programs are said not to run and the status is unchanged", () => {
    // PATH without the stand-in YAML host: a directory with links to the others.
    const bin = join(dir, "fakes");
    mkdirSync(bin);
    for (const name of ["pulumi", "go", "pulumi-language-nodejs"]) {
      symlinkSync(join(FAKES, name), join(bin, name));
    }
    const r = withPath([bin, "/usr/bin", "/bin"]);
    assert.deepEqual(calls(), ["go install", "download"], "the YAML host, then the provider");
    assert.match(r.stderr, /building the YAML language host v1\.32\.0/);
    assert.match(
      r.stderr,
      /no YAML language host: Pulumi YAML programs \(examples\/yaml\) will not run/,
    );
    assert.doesNotMatch(r.stdout, /yaml-bin/);
  });
});

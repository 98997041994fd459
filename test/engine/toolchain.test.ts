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
  readlinkSync,
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
  function withPath(path = [FAKES, "/usr/bin", "/bin"], env: Record<string, string> = {}) {
    const r = spawnSync("bash", [join(ROOT, "scripts/toolchain.sh")], {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        HOME: dir,
        PATH: path.join(":"),
        GUNICORN_UPSTART_CACHE: join(dir, "cache"),
        PULUMI_HOME: join(dir, "home"),
        FAKE_DOWNLOAD: "ok",
        ...env,
      },
    });
    return r;
  }

  /** The stand-ins, all but `hide`, in a directory of links: a PATH without those. */
  function fakesWithout(...hide: string[]): string[] {
    const bin = join(dir, "fakes");
    mkdirSync(bin);
    for (const name of readdirSync(FAKES).filter((n) => !hide.includes(n))) {
      symlinkSync(join(FAKES, name), join(bin, name));
    }
    return [bin, "/usr/bin", "/bin"];
  }

  /** What the toolchain's PATH links to, by name. */
  function links(printed: string): Record<string, string> {
    const shim = printed.trim().split("\n").pop()!.split(":")[0]!;
    return Object.fromEntries(readdirSync(shim).map((n) => [n, readlinkSync(join(shim, n))]));
  }

  test("hosts on PATH are used, and none of ours is put before them: the PATH starts with a link to the CLI only", () => {
    const r = withPath();
    assert.equal(r.status, 0, r.stderr);
    const path = r.stdout.trim().split("\n").pop()!.split(":");
    assert.deepEqual(links(r.stdout), { pulumi: join(FAKES, "pulumi") });
    assert.equal(path[1], FAKES, "then the chosen CLI's directory");
    assert.ok(!path.some((d) => d.endsWith("/bin") && d.includes("/cache/")), path.join(":"));
    assert.deepEqual(calls(), ["download"], "no language host built");
  });

  test("without a YAML host on PATH, one is built from the Go module proxy and linked; the next run builds none", () => {
    const path = fakesWithout("pulumi-language-yaml");
    const r = withPath(path, { FAKE_GO_INSTALL: "ok" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(calls(), ["go install", "download"], "the YAML host, then the provider");
    const linked = links(r.stdout)["pulumi-language-yaml"];
    assert.match(linked ?? "", /\/bin\/pulumi-language-yaml$/);
    const again = withPath(path, { FAKE_GO_INSTALL: "ok" });
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(calls(), [], "built once");
    assert.equal(links(again.stdout)["pulumi-language-yaml"], linked);
  });

  test("a YAML host refused by the proxy: YAML programs are said not to run, the status is unchanged, and it is not asked again today", () => {
    const path = fakesWithout("pulumi-language-yaml");
    const r = withPath(path);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(calls(), ["go install", "download"]);
    assert.match(r.stderr, /building the YAML language host v1\.32\.0/);
    assert.match(
      r.stderr,
      /no YAML language host: Pulumi YAML programs \(examples\/yaml\) will not run/,
    );
    assert.equal(links(r.stdout)["pulumi-language-yaml"], undefined);
    const again = withPath(path);
    assert.deepEqual(calls(), [], "not asked again");
    assert.match(again.stderr, /refused github\.com\/pulumi\/pulumi-yaml.* earlier today/);
  });

  test("without a Node.js host on PATH, a failed build is status 3, said, and nothing is linked", () => {
    const r = withPath(fakesWithout("pulumi-language-nodejs"));
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /could not build the Node\.js language host/);
    assert.equal(links(r.stdout)["pulumi-language-nodejs"], undefined);
  });
});

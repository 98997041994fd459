// `npm run up`'s step before the engine (scripts/local-machine-deps.sh): a stack on the local
// machine (the default target) needs debootstrap, systemd-nspawn, ... on this computer (the
// list its up script checks, LOCAL_MACHINE_NEEDS). As root with apt-get, the missing Debian
// packages are installed, said in one line, `apt-get update` only when the install fails;
// otherwise the exact command is named. The script runs in a project of its own with a PATH
// of its own: apt-get and `id` are stand-ins (test/fixtures/local-machine-deps/), and the
// commands a test says are present are empty stand-ins too.
import { test, describe, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  checkLocalMachine,
  LOCAL_MACHINE_NEEDS,
  renderMachineUp,
} from "../../components/render/localMachine";

const ROOT = resolve(__dirname, "../..");
const FAKES = join(ROOT, "test/fixtures/local-machine-deps");

let dir: string;

/** What the script runs besides the stand-ins: the real ones, alone on its PATH. */
function realTool(name: string): string {
  const r = spawnSync("bash", ["-c", `command -v ${name}`], { encoding: "utf8" });
  assert.equal(r.status, 0, `${name} is needed to run this test`);
  return r.stdout.trim();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "local-machine-deps-"));
  const project = join(dir, "project");
  mkdirSync(join(project, "scripts"), { recursive: true });
  for (const f of ["scripts/local-machine-deps.sh", "scripts/localMachineNeeds.ts"]) {
    symlinkSync(join(ROOT, f), join(project, f));
  }
  for (const f of ["Pulumi.yaml", "components", "node_modules", "package.json"]) {
    symlinkSync(join(ROOT, f), join(project, f));
  }
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const tool of ["bash", "node", "dirname", "tail", "sed", "sort"]) {
    symlinkSync(realTool(tool), join(bin, tool));
  }
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs the script for the stack `ci` with `present` on PATH (empty stand-ins), as `uid`, with
 * or without apt-get (the stand-in, behaving as `apt`).
 */
function run(opts: {
  present: string[];
  uid?: number;
  apt?: "ok" | "stale" | "broken" | "none";
  stackFile?: string;
}) {
  const bin = join(dir, "bin");
  for (const tool of opts.present)
    writeFileSync(join(bin, tool), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  symlinkSync(join(FAKES, "id"), join(bin, "id"));
  if (opts.apt !== "none") symlinkSync(join(FAKES, "apt-get"), join(bin, "apt-get"));
  if (opts.stackFile !== undefined) {
    writeFileSync(join(dir, "project/Pulumi.ci.yaml"), opts.stackFile);
  }
  const calls = join(dir, "calls");
  const r = spawnSync(
    join(bin, "bash"),
    [join(dir, "project/scripts/local-machine-deps.sh"), "ci"],
    {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        PATH: bin,
        HOME: dir,
        CALLS: calls,
        FAKE_UID: String(opts.uid ?? 0),
        FAKE_APT: opts.apt ?? "ok",
      },
    },
  );
  return {
    status: r.status,
    lines: r.stderr.trim() === "" ? [] : r.stderr.trim().split("\n"),
    stderr: r.stderr,
    calls: existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : [],
  };
}

/** Everything the machine needs but debootstrap and systemd-nspawn. */
const MOST = LOCAL_MACHINE_NEEDS.map((n) => n.command).filter(
  (c) => c !== "debootstrap" && c !== "systemd-nspawn",
);

describe("npm run up: what the local machine needs on this computer", () => {
  test("as root, the missing packages are installed with apt-get, said in one line", () => {
    const r = run({ present: MOST });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.lines, [
      "npm run up: installing debootstrap systemd-container for the local machine (apt-get install -y debootstrap systemd-container)",
    ]);
    assert.deepEqual(r.calls, ["apt-get install -y -q debootstrap systemd-container"]);
  });

  test("stale package lists: apt-get update once the install fails, then the install again", () => {
    const r = run({ present: MOST, apt: "stale" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.lines.length, 1, r.stderr);
    assert.deepEqual(r.calls, [
      "apt-get install -y -q debootstrap systemd-container",
      "apt-get update -q",
      "apt-get install -y -q debootstrap systemd-container",
    ]);
  });

  test("an install that fails after the update: status 1 and apt-get's own last lines", () => {
    const r = run({ present: MOST, apt: "broken" });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /apt-get install -y debootstrap systemd-container failed; its last lines:/,
    );
    assert.match(r.stderr, /\| E: Unable to locate package systemd-container/);
  });

  test("not root: the exact command, nothing installed", () => {
    const r = run({ present: MOST, uid: 1000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /sudo apt-get install -y debootstrap systemd-container/);
    assert.match(r.stderr, /run npm run up as root/);
    assert.deepEqual(r.calls, []);
  });

  test("root without apt-get: the packages by name", () => {
    const r = run({ present: MOST, apt: "none" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no apt-get: debootstrap systemd-container/);
  });

  test("one package for two commands is named once", () => {
    const r = run({
      present: ["debootstrap", "systemd-nspawn", "unshare", "slirp4netns", "socat"],
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.calls, ["apt-get install -y -q openssh-client"]);
  });

  test("everything there: nothing said, nothing run", () => {
    const r = run({ present: LOCAL_MACHINE_NEEDS.map((n) => n.command) });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.lines, []);
    assert.deepEqual(r.calls, []);
  });

  test("a stack on an existing host or a new EC2 instance needs none of it", () => {
    for (const stackFile of [
      "config:\n  gunicorn-upstart:host: 203.0.113.20\n",
      "config:\n  gunicorn-upstart:publicKey: ssh-ed25519 AAAA test\n",
      "config:\n  gunicorn-upstart:host:\n    secure: v1:abc:def\n",
    ]) {
      const r = run({ present: [], stackFile });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual([r.lines, r.calls], [[], []], stackFile);
      rmSync(join(dir, "bin/id"));
      rmSync(join(dir, "bin/apt-get"));
    }
  });

  test("the local machine's own up script checks the same list, and names the command", () => {
    // Where the machine is deployed by a stack of the library's user, not `npm run up`.
    const bin = join(dir, "bin");
    symlinkSync(join(FAKES, "id"), join(bin, "id"));
    writeFileSync(join(bin, "ssh"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const script = renderMachineUp(checkLocalMachine({ name: "check" }));
    const r = spawnSync(join(bin, "bash"), ["-c", script], {
      encoding: "utf8",
      env: { PATH: bin, HOME: dir, FAKE_UID: "0" },
    });
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr.trim(),
      "the local machine needs these Debian packages on this computer: apt-get install -y debootstrap openssh-client slirp4netns socat systemd-container util-linux (npm run up installs them itself as root)",
    );
  });
});

// A fresh clone can deploy: no stack config file (Pulumi.<stack>.yaml) is committed with an
// encryption salt, a secret or config values. Such a file pins its stack to the passphrase
// that made its salt and carries someone's settings: `npm install && npm run up -- --yes` on a
// fresh clone stopped with "could not create secrets manager for new stack: incorrect
// passphrase" (its generated passphrase is not that one), and its `host: 127.0.0.1` turned the
// default target from the local machine into an existing host. Stack files are ignored by
// git; `npm run up` and `npm run pulumi` create the stack and its file on first use.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { parse } from "yaml";

const ROOT = resolve(__dirname, "../..");

/** `Pulumi.<stack>.yaml` (or `.yml`): a stack's config; not the project's `Pulumi.yaml`. */
const STACK_FILE = /^Pulumi\.[^/]+\.ya?ml$/;

/**
 * What a stack file must not hold to be committed: an `encryptionsalt` (the passphrase's),
 * a `secure:` value, or any config value. Returns the reasons, empty when it holds none.
 */
function committedStackFileProblems(text: string): string[] {
  const problems: string[] = [];
  const doc = (parse(text) ?? {}) as { encryptionsalt?: unknown; config?: unknown };
  if (doc.encryptionsalt !== undefined) problems.push("an encryptionsalt");
  if (/(^|[\s{,])secure:/m.test(text)) problems.push("a secure: value");
  if (typeof doc.config === "object" && doc.config !== null) {
    const keys = Object.keys(doc.config);
    if (keys.length > 0) problems.push(`config values (${keys.join(", ")})`);
  }
  return problems;
}

/**
 * The files a commit would hold: tracked ones and untracked ones git does not ignore (what
 * `git add .` would take); every file but node_modules where this is not a git work tree.
 */
function repoFiles(): string[] {
  const git = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (git.status === 0) return git.stdout.split("\0").filter(Boolean);
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.name === "node_modules" || e.name === ".git"
        ? []
        : e.isDirectory()
          ? walk(join(dir, e.name))
          : [relative(ROOT, join(dir, e.name))],
    );
  return walk(ROOT);
}

function ignored(path: string): boolean {
  return spawnSync("git", ["check-ignore", "-q", path], { cwd: ROOT }).status === 0;
}

/** The stack file that broke fresh clones (its passphrase is unknown). */
const OLD_STACK_FILE = [
  "encryptionsalt: v1:u+qZ4OypQhI=:v1:xAoCyDKI2vQjBCfo:P4PQFPEYC1ICgs3wjQmreFg7aZ/RgQ==",
  "config:",
  "  gunicorn-upstart:host: 127.0.0.1",
  '  gunicorn-upstart:respawnLimitCount: "7"',
  "  gunicorn-upstart:sshPrivateKey:",
  "    secure: v1:2qbnvv0ccnr03z7t:17scf9ARX8xbbRZjoAHM7Qrl2g==",
  "",
].join("\n");

const copies: string[] = [];
after(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A fresh clone: the files a commit holds, copied, and the installed node_modules. */
function freshClone(): string {
  const dir = mkdtempSync(join(tmpdir(), "fresh-clone-"));
  copies.push(dir);
  for (const f of repoFiles()) {
    if (f === "node_modules" || f.startsWith("node_modules/") || !existsSync(join(ROOT, f))) {
      continue;
    }
    mkdirSync(join(dir, dirname(f)), { recursive: true });
    cpSync(join(ROOT, f), join(dir, f));
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** `npm run pulumi -- args` in a clone, as its user runs it: no stack, backend or passphrase set. */
function npmRunPulumi(dir: string, args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [
    "STACK",
    "PULUMI_STATE_DIR",
    "PULUMI_BACKEND_URL",
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
  ]) {
    delete env[name];
  }
  const r = spawnSync("bash", ["scripts/pulumi.sh", ...args], {
    cwd: dir,
    encoding: "utf8",
    timeout: 300_000,
    env,
  });
  return { status: r.status, stdout: r.stdout, all: r.stdout + r.stderr };
}

describe("a fresh clone", { timeout: 600_000 }, () => {
  test("no stack file in the repo, examples included, holds an encryption salt, a secret or config", () => {
    const stackFiles = repoFiles().filter((f) => STACK_FILE.test(basename(f)));
    const bad = stackFiles.flatMap((f) => {
      let text: string;
      try {
        text = readFileSync(join(ROOT, f), "utf8");
      } catch {
        return []; // deleted in the work tree, not yet in the index
      }
      const problems = committedStackFileProblems(text);
      return problems.length > 0 ? [`${f}: ${problems.join(", ")}`] : [];
    });
    assert.deepEqual(
      bad,
      [],
      "a stack file pins its stack to the passphrase of its salt: `git rm` it (npm run up makes its own)",
    );
  });

  test("the check refuses the stack file that broke fresh clones, and passes an empty one", () => {
    assert.deepEqual(committedStackFileProblems(OLD_STACK_FILE), [
      "an encryptionsalt",
      "a secure: value",
      "config values (gunicorn-upstart:host, gunicorn-upstart:respawnLimitCount, gunicorn-upstart:sshPrivateKey)",
    ]);
    assert.deepEqual(committedStackFileProblems("config: {}\n"), []);
    assert.deepEqual(committedStackFileProblems(""), []);
  });

  test("git ignores stack files, here and in examples, and not the project file", () => {
    if (spawnSync("git", ["rev-parse"], { cwd: ROOT }).status !== 0) return;
    for (const f of ["Pulumi.dev.yaml", "Pulumi.prod.yaml", "examples/fleet/Pulumi.dev.yaml"]) {
      assert.ok(ignored(f), `${f} is ignored`);
    }
    for (const f of ["Pulumi.yaml", "examples/fleet/Pulumi.yaml"]) {
      assert.ok(!ignored(f), `${f} is not ignored`);
    }
  });

  test("npm run pulumi creates the stack dev and its config file, with a passphrase it generates", () => {
    const dir = freshClone();
    assert.ok(!existsSync(join(dir, "Pulumi.dev.yaml")));
    const r = npmRunPulumi(dir, ["config"]);
    assert.equal(r.status, 0, r.all);
    assert.match(r.all, /generated the stack secrets' passphrase/);
    assert.match(r.all, /Created stack 'dev'/);
    // The file holds the salt of this clone's passphrase and nothing else: the default target.
    const stackFile = parse(readFileSync(join(dir, "Pulumi.dev.yaml"), "utf8")) as {
      encryptionsalt?: string;
      config?: unknown;
    };
    assert.match(stackFile.encryptionsalt ?? "", /^v1:/);
    assert.equal(stackFile.config, undefined);
    assert.ok(existsSync(join(dir, ".pulumi-state/passphrase")));
    // A secret set now decrypts with it, and the next run selects the same stack.
    const set = npmRunPulumi(dir, ["config", "set", "--secret", "token", "s3cret"]);
    assert.equal(set.status, 0, set.all);
    const get = npmRunPulumi(dir, ["config", "get", "token"]);
    assert.equal(get.stdout.trim(), "s3cret", get.all);
    assert.doesNotMatch(get.all, /Created stack/);
  });

  test("a stack file left from another passphrase: npm run pulumi says which file and what to do", () => {
    const dir = freshClone();
    writeFileSync(join(dir, "Pulumi.dev.yaml"), OLD_STACK_FILE);
    const r = npmRunPulumi(dir, ["config"]);
    assert.notEqual(r.status, 0);
    assert.match(r.all, /incorrect passphrase/);
    assert.match(
      r.all,
      /Pulumi\.dev\.yaml was made with another passphrase .* move Pulumi\.dev\.yaml aside to start the stack afresh/,
    );
  });
});

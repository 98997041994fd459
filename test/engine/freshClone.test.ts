// A fresh clone can deploy: no stack config file (Pulumi.<stack>.yaml) is committed with an
// encryption salt, a secret or config values. Such a file pins its stack to the passphrase
// that made its salt and carries someone's settings: `npm install && npm run up -- --yes` on a
// fresh clone stopped with "could not create secrets manager for new stack: incorrect
// passphrase" (its generated passphrase is not that one), and its `host: 127.0.0.1` turned the
// default target from the local machine into an existing host. Stack files are ignored by
// git; `npm run up` and `npm run pulumi` create the stack and its file on first use.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
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

describe("a fresh clone", () => {
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
    const old = [
      "encryptionsalt: v1:u+qZ4OypQhI=:v1:xAoCyDKI2vQjBCfo:P4PQFPEYC1ICgs3wjQmreFg7aZ/RgQ==",
      "config:",
      "  gunicorn-upstart:host: 127.0.0.1",
      '  gunicorn-upstart:respawnLimitCount: "7"',
      "  gunicorn-upstart:sshPrivateKey:",
      "    secure: v1:2qbnvv0ccnr03z7t:17scf9ARX8xbbRZjoAHM7Qrl2g==",
      "",
    ].join("\n");
    assert.deepEqual(committedStackFileProblems(old), [
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
});

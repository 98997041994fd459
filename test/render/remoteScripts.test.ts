// The file write script, run for real through the same command string `remote.Command` gets:
// content through stdin, atomic replace, owner and mode, and a short read never replaces a file.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import {
  asRemoteCommand,
  drainingStdin,
  renderDeleteFileScript,
  renderWriteFileScript,
} from "../../components/render/remoteScripts";

const me = userInfo().username;
const myGroup = spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();

function runRemote(script: string, stdin: string) {
  return spawnSync("sh", ["-c", asRemoteCommand(script)], { input: stdin, encoding: "utf8" });
}

describe("RemoteFile scripts", () => {
  const content = 'line one\nit\'s "quoted" $(not run) `nor this`\n\u00e9\u4e2d\n';
  const bytes = Buffer.byteLength(content);

  test("write creates missing directories and the file with its content, owner and mode", () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-"));
    const path = join(dir, "new dir", "it's.conf");
    const r = runRemote(
      renderWriteFileScript({ path, owner: me, group: myGroup, mode: "0640" }, bytes),
      content,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(path, "utf8"), content);
    assert.equal(statSync(path).mode & 0o7777, 0o640);
    assert.deepEqual(
      readdirSync(join(dir, "new dir")),
      ["it's.conf"],
      "no temp file is left behind",
    );
  });

  test("root never writes under a directory another user can change (a link swap would redirect it)", (t) => {
    if (process.getuid?.() !== 0) return t.skip("needs root to give directories away");
    const base = mkdtempSync(join(tmpdir(), "rf-"));
    const target = join(base, "secret");
    writeFileSync(target, "root only\n", { mode: 0o600 });
    const cases: [string, () => string][] = [
      [
        "a directory of another user",
        () => {
          const d = join(base, "app-owned");
          mkdirSync(d);
          spawnSync("chown", ["nobody", d]);
          return join(d, "run.sh");
        },
      ],
      [
        "a group-writable directory",
        () => {
          const d = join(base, "group-writable");
          mkdirSync(d, { mode: 0o775 });
          chmodSync(d, 0o775);
          return join(d, "run.sh");
        },
      ],
      [
        "a missing directory under another user's",
        () => {
          const d = join(base, "app-owned2");
          mkdirSync(d);
          spawnSync("chown", ["nobody", d]);
          return join(d, "not yet", "run.sh");
        },
      ],
      [
        "a root-owned link into another user's directory",
        () => {
          const d = join(base, "app-owned3");
          mkdirSync(d);
          spawnSync("chown", ["nobody", d]);
          symlinkSync(d, join(base, "link"));
          return join(base, "link", "run.sh");
        },
      ],
    ];
    for (const [label, make] of cases) {
      const path = make();
      const r = runRemote(
        renderWriteFileScript({ path, owner: "root", group: "root", mode: "0755" }, bytes),
        content,
      );
      assert.equal(r.status, 1, `${label} was written`);
      assert.match(
        r.stderr,
        /refusing to write .*can be changed by a user other than root, who could swap the file/,
        label,
      );
      assert.equal(existsSync(path), false, label);
    }
    assert.equal(readFileSync(target, "utf8"), "root only\n");
    // A sticky world-writable directory (such as /tmp) is fine: others cannot rename root's files.
    const sticky = join(base, "sticky");
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const ok = runRemote(
      renderWriteFileScript(
        { path: join(sticky, "f"), owner: me, group: myGroup, mode: "0644" },
        bytes,
      ),
      content,
    );
    assert.equal(ok.status, 0, ok.stderr);
  });

  test("a short read (a dropped session) fails and leaves the old file untouched", () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-"));
    const path = join(dir, "job.conf");
    writeFileSync(path, "old content\n");
    const r = runRemote(
      renderWriteFileScript({ path, owner: me, group: myGroup, mode: "0644" }, bytes),
      content.slice(0, 10),
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`received 10 of ${bytes} bytes`));
    assert.equal(readFileSync(path, "utf8"), "old content\n");
    assert.deepEqual(readdirSync(dir), ["job.conf"], "the temp file is removed");
  });

  test("writing twice gives the same file (idempotent), and delete is idempotent too", () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-"));
    const path = join(dir, "f");
    const script = renderWriteFileScript({ path, owner: me, group: myGroup, mode: "0755" }, bytes);
    assert.equal(runRemote(script, content).status, 0);
    assert.equal(runRemote(script, content).status, 0);
    assert.equal(readFileSync(path, "utf8"), content);
    assert.equal(statSync(path).mode & 0o7777, 0o755);
    for (let i = 0; i < 2; i++) {
      const r = runRemote(renderDeleteFileScript(path), "");
      assert.equal(r.status, 0, r.stderr);
      assert.equal(existsSync(path), false);
    }
  });

  test("deleting an imported Python file also removes its bytecode cache, and only its own", () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-"));
    mkdirSync(join(dir, "__pycache__"));
    writeFileSync(join(dir, "site.conf.py"), "x = 1\n");
    writeFileSync(join(dir, "__pycache__", "site.conf.cpython-311.pyc"), "");
    writeFileSync(join(dir, "__pycache__", "other.cpython-311.pyc"), "");
    const script = renderDeleteFileScript(join(dir, "site.conf.py"), { pythonCache: true });
    assert.equal(runRemote(script, "").status, 0);
    assert.deepEqual(readdirSync(dir), ["__pycache__"]);
    assert.deepEqual(readdirSync(join(dir, "__pycache__")), ["other.cpython-311.pyc"]);
    rmSync(join(dir, "__pycache__", "other.cpython-311.pyc"));
    writeFileSync(join(dir, "site.conf.py"), "x = 1\n");
    writeFileSync(join(dir, "__pycache__", "site.conf.cpython-311.pyc"), "");
    assert.equal(runRemote(script, "").status, 0);
    assert.deepEqual(readdirSync(dir), [], "an emptied __pycache__ goes too");
  });

  test("an unknown owner fails the write and keeps the old file", () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-"));
    const path = join(dir, "f");
    writeFileSync(path, "old\n");
    const r = runRemote(
      renderWriteFileScript({ path, owner: "no-such-user-x", group: myGroup, mode: "0644" }, bytes),
      content,
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /chown/);
    assert.equal(readFileSync(path, "utf8"), "old\n");
    assert.deepEqual(readdirSync(dir), ["f"]);
  });

  test("the command string holds no content: only the path, owner, mode and byte count", () => {
    const cmd = asRemoteCommand(
      renderWriteFileScript({ path: "/etc/x", owner: "root", group: "root", mode: "0644" }, bytes),
    );
    assert.ok(!cmd.includes("line one"));
    assert.match(cmd, new RegExp(`expected_bytes=${bytes}`));
  });
});

describe("deletes and the stored stdin the provider pipes into them", () => {
  // The command provider sends a resource's stored stdin to its delete command too; over SSH
  // a command that exits with 2 MB or more of it unread ends the session with EOF and the
  // destroy fails. Here a pipe shows the same thing: the writer gets EPIPE.
  const threeMB = "x".repeat(3 << 20);

  test("a delete reads all of a 3 MB stdin, then removes the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "delete-"));
    const path = join(dir, "config.py");
    writeFileSync(path, "workers = 3\n");
    const r = spawnSync(
      "sh",
      ["-c", drainingStdin(asRemoteCommand(renderDeleteFileScript(path)))],
      { input: threeMB, encoding: "utf8" },
    );
    assert.equal(r.error, undefined, "all of stdin was read");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(path), false);
    rmSync(dir, { recursive: true, force: true });
  });

  test("a delete that keeps everything (releases, virtualenv, host setup) reads it too", () => {
    const r = spawnSync("sh", ["-c", drainingStdin("true")], { input: threeMB });
    assert.equal(r.error, undefined);
    assert.equal(r.status, 0);
    const unread = spawnSync("sh", ["-c", "true"], { input: threeMB });
    assert.equal(
      (unread.error as NodeJS.ErrnoException | undefined)?.code,
      "EPIPE",
      "without it the writer fails, as the provider's SSH session does",
    );
  });
});

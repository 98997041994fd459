// The file write script, run for real through the same command string `remote.Command` gets
// (the loader stub, the program and the content on stdin): content through stdin, atomic
// replace, owner and mode, and a short read never replaces a file. And what every step prints:
// progress on stderr, results on stdout, a failure as its reason and the tail of its log.
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
  drainingStdin,
  FAILURE_TAIL_LINES,
  loaderCommand,
  loaderInput,
  renderDeleteFileScript,
  renderStepProgram,
  renderWriteFileScript,
  STEP_CHANNELS,
} from "../../components/render/remoteScripts";

const me = userInfo().username;
const myGroup = spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();

/** Runs `script` as the components do: the loader's command, the program and `stdin` after it. */
function runRemote(script: string, stdin: string, env: NodeJS.ProcessEnv = process.env) {
  const program = renderStepProgram({ run: { label: "the step", script } });
  return spawnSync("sh", ["-c", loaderCommand("run")], {
    input: loaderInput(program, stdin),
    encoding: "utf8",
    env,
    maxBuffer: 64 << 20,
  });
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
        r.stdout,
        /^gunicorn-upstart: the step on \S+ failed: refusing to write .*can be changed by a user other than root, who could swap the file/,
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
    assert.match(r.stdout, new RegExp(`received 10 of ${bytes} bytes`));
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
    // No reason given by the script: its exit status and the last line of its log.
    assert.match(
      r.stdout,
      /^gunicorn-upstart: the step on \S+ failed: exited with status 1: chown: /,
    );
    assert.equal(readFileSync(path, "utf8"), "old\n");
    assert.deepEqual(readdirSync(dir), ["f"]);
  });

  test("the command string holds neither content nor script: the program comes on stdin", () => {
    const cmd = loaderCommand("write");
    assert.ok(Buffer.byteLength(cmd) < 300, cmd);
    assert.doesNotMatch(cmd, /\n|expected_bytes|line one/);
    assert.equal(loaderCommand("delete"), cmd.replace("'write'", "'delete'"), "one stub for all");
  });
});

describe("deletes and the stored stdin the provider pipes into them", () => {
  // The command provider sends a resource's stored stdin to its delete command too; over SSH
  // a command that exits with 2 MB or more of it unread ends the session with EOF and the
  // destroy fails. Here a pipe shows the same thing: the writer gets EPIPE.
  const threeMB = "x".repeat(3 << 20);

  test("a delete reads all of a 3 MB stdin (its step runner does), and removes the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "delete-"));
    const path = join(dir, "config.py");
    writeFileSync(path, "workers = 3\n");
    const program = renderStepProgram({
      delete: { label: "removing it", script: renderDeleteFileScript(path) },
    });
    const r = spawnSync("sh", ["-c", loaderCommand("delete")], {
      input: loaderInput(program, threeMB),
      encoding: "utf8",
    });
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

describe("the loader and the step runner: what a person sees of a step", () => {
  const bash = (script: string) => ["set -euo pipefail", ...STEP_CHANNELS, script, ""].join("\n");

  test("the loader reads exactly its program, in any locale: what follows reaches the script byte for byte", () => {
    // Multibyte characters in the program: a UTF-8 locale would count characters, not bytes.
    const script = bash('say "d\u00e9j\u00e0 \u4e2d"\ncat > "$1"');
    const out = join(mkdtempSync(join(tmpdir(), "loader-")), "out");
    const content = "\u00e9\u4e2d\u0000 and the rest\n".repeat(1000);
    const program = renderStepProgram({ run: { label: "copying", script } });
    for (const locale of ["C", "C.UTF-8"]) {
      const r = spawnSync("sh", ["-c", `${loaderCommand("run")} ${out}`], {
        input: loaderInput(program, content),
        encoding: "utf8",
        env: { ...process.env, LANG: locale, LC_ALL: locale },
      });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(readFileSync(out, "utf8"), content, locale);
      assert.equal(
        r.stderr.trim().split("\n").pop(),
        "d\u00e9j\u00e0 \u4e2d",
        "progress on stderr",
      );
    }
  });

  test("a missing or cut program runs nothing", () => {
    const program = renderStepProgram({ run: { label: "x", script: bash("touch /tmp/never") } });
    for (const stdin of ["", "12\nshort", loaderInput(program).slice(0, -10)]) {
      const r = spawnSync("sh", ["-c", loaderCommand("run")], { input: stdin, encoding: "utf8" });
      assert.equal(r.status, 2, JSON.stringify(stdin.slice(0, 40)));
      assert.match(r.stderr, /no program on standard input/);
    }
  });

  test("a failed step prints its reason first, then at most the last lines of its log, however much it printed", () => {
    const script = bash(
      [
        'say "gunicorn-upstart: working"',
        'for i in $(seq 5000); do echo "chatter line $i of a long build"; done',
        'echo "the detail that matters" >&2',
        'fail "the thing broke: no such file /opt/typo2/bin/activate"',
      ].join("\n"),
    );
    const r = runRemote(script, "");
    assert.equal(r.status, 1);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(
      lines[0]!,
      /^gunicorn-upstart: the step on \S+ failed: the thing broke: no such file \/opt\/typo2\/bin\/activate$/,
    );
    assert.ok(lines.length <= 1 + FAILURE_TAIL_LINES, `${lines.length} lines`);
    assert.equal(lines.at(-1), "the detail that matters");
    assert.doesNotMatch(r.stdout, /chatter line 1 /, "the start of the log is not shown");
    assert.equal(r.stderr, "gunicorn-upstart: working\n", "only progress is streamed");
    assert.doesNotMatch(r.stdout + r.stderr, /set -euo pipefail|fail \(\)|for i in/, "no script");
  });

  test("a step that fails without saying why: its exit status and its log's last line are the reason", () => {
    const r = runRemote(bash('echo "noise"\nls /no/such/dir'), "");
    assert.equal(r.status, 2);
    assert.match(
      r.stdout.split("\n")[0]!,
      /^gunicorn-upstart: the step on \S+ failed: exited with status 2: ls: cannot access '\/no\/such\/dir'/,
    );
  });

  test("results (fd 7) reach stdout only when the step succeeds; its chatter never does", () => {
    const ok = runRemote(bash('echo chatter\nsay "progress"\necho "a result" >&7'), "");
    assert.equal(ok.status, 0, ok.stdout);
    assert.equal(ok.stdout, "progress\na result\n");
    assert.equal(ok.stderr, "progress\n");
    const bad = runRemote(bash('echo "a result" >&7\nfail "no"'), "");
    assert.equal(bad.status, 1);
    assert.doesNotMatch(bad.stdout, /a result/);
  });
});

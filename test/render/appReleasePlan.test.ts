// Releases, pure parts: the archive is deterministic and faithful, and the upload script
// (run for real under bash) unpacks it completely or not at all.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packRelease } from "../../components/appReleasePlan";
import { renderUploadScript } from "../../components/render/releaseScripts";
import { SpecError } from "../../components/spec";
import { craftedRelease } from "../helpers/craftedRelease";

function app(): string {
  const dir = mkdtempSync(join(tmpdir(), "src-"));
  mkdirSync(join(dir, "mysite/__pycache__"), { recursive: true });
  writeFileSync(join(dir, "manage.py"), "#!/usr/bin/env python\nprint('hi')\n");
  chmodSync(join(dir, "manage.py"), 0o755);
  writeFileSync(join(dir, "mysite/settings.py"), "DEBUG = False\n");
  writeFileSync(join(dir, "mysite/__pycache__/settings.cpython-311.pyc"), "junk");
  writeFileSync(join(dir, "mysite/old.pyc"), "junk");
  mkdirSync(join(dir, ".git"));
  writeFileSync(join(dir, ".git/HEAD"), "ref\n");
  writeFileSync(join(dir, "a".repeat(120) + ".txt"), "long name\n");
  symlinkSync("mysite/settings.py", join(dir, "settings-link.py"));
  return dir;
}

/** The paths in a packed release, sorted. */
function listed(packed: { archiveBase64: string }): string[] {
  const r = spawnSync("tar", ["-tzf", "-"], {
    input: Buffer.from(packed.archiveBase64, "base64"),
    encoding: "utf8",
  });
  return r.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.replace(/\/$/, ""))
    .sort();
}

const upload = (root: string, id: string, payload: string) =>
  spawnSync("bash", ["-c", renderUploadScript(root, id, Buffer.byteLength(payload))], {
    input: payload,
    encoding: "utf8",
  });

describe("releases", () => {
  test("the same tree always packs to the same bytes and id; any change gives a new id", () => {
    const dir = app();
    const a = packRelease(dir);
    const b = packRelease(dir);
    assert.equal(a.archiveBase64, b.archiveBase64);
    assert.equal(a.id, b.id);
    assert.match(a.id, /^[0-9a-f]{16}$/);
    writeFileSync(join(dir, "mysite/settings.py"), "DEBUG = True\n");
    assert.notEqual(packRelease(dir).id, a.id);
  });

  test("bytecode and VCS data are left out; modes, long names and symlinks survive an unpack", () => {
    const dir = app();
    const packed = packRelease(dir);
    const root = mkdtempSync(join(tmpdir(), "root-"));
    const r = upload(root, packed.id, packed.archiveBase64);
    assert.equal(r.status, 0, r.stderr);
    const out = join(root, "releases", packed.id);
    assert.deepEqual(
      readdirSync(out).sort(),
      [
        ".gunicorn-upstart-release",
        "a".repeat(120) + ".txt",
        "manage.py",
        "mysite",
        "settings-link.py",
      ].sort(),
    );
    assert.deepEqual(readdirSync(join(out, "mysite")), ["settings.py"]);
    assert.equal(statSync(join(out, "manage.py")).mode & 0o777, 0o755);
    assert.equal(statSync(join(out, "mysite/settings.py")).mode & 0o777, 0o644);
    assert.equal(readFileSync(join(out, "settings-link.py"), "utf8"), "DEBUG = False\n");
    assert.equal(packed.files, 3);
  });

  test("secrets, data and environments stay home: .env, *.sqlite3, venv/, media/ and the like are never shipped by default", () => {
    const dir = app();
    const put = (path: string, text = "x\n") => {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    put(".env", "SECRET_KEY=hunter2\n");
    put(".env.production", "SECRET_KEY=hunter3\n");
    put("mysite/.env", "SECRET_KEY=hunter4\n");
    put("db.sqlite3");
    put("venv/bin/python");
    put(".venv/bin/python");
    put("media/uploads/cat.jpg");
    put("node_modules/left-pad/index.js");
    put("mysite/templates/media.html"); // a file named like an ignored directory stays
    put(".environment.py"); // only .env and .env.* are secrets by default
    const names = listed(packRelease(dir));
    assert.deepEqual(
      names.filter((n) => !n.startsWith("a".repeat(10))),
      [
        ".environment.py",
        "manage.py",
        "mysite",
        "mysite/settings.py",
        "mysite/templates",
        "mysite/templates/media.html",
        "settings-link.py",
      ],
    );
    assert.ok(!JSON.stringify(names).includes("hunter"));
  });

  test("the app's .deployignore (.gitignore syntax) leaves out more, or ships a default back with !", () => {
    const dir = app();
    mkdirSync(join(dir, "media/img"), { recursive: true });
    writeFileSync(join(dir, "media/img/logo.png"), "png");
    mkdirSync(join(dir, "docs/build"), { recursive: true });
    writeFileSync(join(dir, "docs/build/index.html"), "html");
    writeFileSync(join(dir, "docs/notes.md"), "notes");
    writeFileSync(join(dir, "debug.log"), "log");
    writeFileSync(join(dir, ".deployignore"), "# ours\n/docs/build/\n*.log\n!media/\n\n");
    const names = listed(packRelease(dir));
    for (const n of ["media/img/logo.png", "docs/notes.md"]) assert.ok(names.includes(n), n);
    for (const n of ["docs/build", "debug.log", ".deployignore"]) {
      assert.ok(!names.includes(n), n);
    }
  });

  test("uploading a release already on the host changes nothing", () => {
    const packed = packRelease(app());
    const root = mkdtempSync(join(tmpdir(), "root-"));
    assert.equal(upload(root, packed.id, packed.archiveBase64).status, 0);
    writeFileSync(join(root, "releases", packed.id, "marker"), "kept\n");
    const again = upload(root, packed.id, packed.archiveBase64);
    assert.equal(again.status, 0);
    assert.match(again.stdout, /already on the host/);
    assert.equal(readFileSync(join(root, "releases", packed.id, "marker"), "utf8"), "kept\n");
  });

  test("a truncated upload is refused and leaves no release directory behind", () => {
    const packed = packRelease(app());
    const root = mkdtempSync(join(tmpdir(), "root-"));
    const r = spawnSync(
      "bash",
      ["-c", renderUploadScript(root, packed.id, Buffer.byteLength(packed.archiveBase64))],
      {
        input: packed.archiveBase64.slice(0, 100),
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /refusing release/);
    assert.deepEqual(readdirSync(join(root, "releases")), []);
  });

  test("an app root another user can change is refused before root makes anything in it", (t) => {
    if (process.getuid?.() !== 0) return t.skip("needs root to give directories away");
    const root = mkdtempSync(join(tmpdir(), "root-"));
    spawnSync("chown", ["nobody", root]);
    const packed = packRelease(app());
    const r = upload(root, packed.id, packed.archiveBase64);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /refusing release .*\(uid 65534, mode 700\) can be changed by a user other than root/,
    );
    assert.deepEqual(readdirSync(root), []);
  });

  test("no setuid or setgid bit survives an unpack (root's tar would keep it)", () => {
    const root = mkdtempSync(join(tmpdir(), "root-"));
    const id = "00000000000000aa";
    const r = upload(root, id, craftedRelease("setuid"));
    assert.equal(r.status, 0, r.stderr);
    const mode = statSync(join(root, "releases", id, "x")).mode;
    assert.equal(mode & 0o7000, 0, `mode ${mode.toString(8)}`);
    const left = spawnSync("find", [root, "-perm", "/6000"], { encoding: "utf8" }).stdout;
    assert.equal(left, "");
  });

  test("a release with a device node or a hard link is refused whole; nothing is unpacked", () => {
    // "devices": 2000 of them, a listing longer than a pipe holds (a check that stopped reading
    // at the first one let its failure pass for "none").
    for (const kind of ["device", "devices", "hardlink"] as const) {
      const root = mkdtempSync(join(tmpdir(), "root-"));
      const r = upload(root, "00000000000000bb", craftedRelease(kind));
      assert.equal(r.status, 1, `${kind}: ${r.stderr}`);
      assert.match(r.stderr, /entries other than files, directories and symlinks/);
      assert.deepEqual(readdirSync(join(root, "releases")), [], kind);
    }
  });

  test("a missing app directory is refused naming appSource", () => {
    assert.throws(
      () => packRelease("/nonexistent/app"),
      (e: unknown) => e instanceof SpecError && e.field === "appSource",
    );
  });
});

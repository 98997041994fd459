// Releases, local parts: the archive is deterministic and faithful, kept in the local cache by
// its hash, and the upload script (run for real under bash) unpacks it completely or not at
// all, only once its sha256 is the one packed; the SSH user's command hands its copy over.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cacheRelease,
  packRelease,
  RELEASE_CACHE_KEEP_MS,
} from "../../components/render/appReleasePlan";
import { releaseUploadPath, renderUploadScript } from "../../components/render/releaseScripts";
import { SpecError } from "../../components/render/spec";
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
function listed(packed: { archive: Buffer }): string[] {
  const r = spawnSync("tar", ["-tzf", "-"], { input: packed.archive, encoding: "utf8" });
  return r.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.replace(/\/$/, ""))
    .sort();
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * Runs the upload script as root, as when the SSH user is root (no SUDO_UID: the copy is in
 * root's HOME, a temp dir here), with `payload` as the copy (none when undefined), expecting
 * the sha256 of `expected`. Returns the result and where the copy was.
 */
function upload(root: string, id: string, payload: Buffer | undefined, expected = payload) {
  const home = mkdtempSync(join(tmpdir(), "home-"));
  const copy = join(home, releaseUploadPath(root));
  if (payload !== undefined) {
    mkdirSync(join(copy, ".."), { recursive: true });
    writeFileSync(copy, payload);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  delete env.SUDO_UID;
  const r = spawnSync("bash", ["-c", renderUploadScript(root, id, sha256(expected!))], {
    env,
    encoding: "utf8",
  });
  return { ...r, copy };
}

/** A crafted archive (see craftedRelease) as bytes. */
const crafted = (...args: Parameters<typeof craftedRelease>) =>
  Buffer.from(craftedRelease(...args), "base64");

describe("releases", () => {
  test("the same tree always packs to the same bytes and id; any change gives a new id", () => {
    const dir = app();
    const a = packRelease(dir);
    const b = packRelease(dir);
    assert.ok(a.archive.equals(b.archive));
    assert.equal(a.sha256, sha256(a.archive));
    assert.equal(a.sha256, b.sha256);
    assert.equal(a.id, b.id);
    assert.match(a.id, /^[0-9a-f]{16}$/);
    writeFileSync(join(dir, "mysite/settings.py"), "DEBUG = True\n");
    assert.notEqual(packRelease(dir).id, a.id);
  });

  test("bytecode and VCS data are left out; modes, long names and symlinks survive an unpack", () => {
    const dir = app();
    const packed = packRelease(dir);
    const root = mkdtempSync(join(tmpdir(), "root-"));
    const r = upload(root, packed.id, packed.archive);
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
    assert.equal(upload(root, packed.id, packed.archive).status, 0);
    writeFileSync(join(root, "releases", packed.id, "marker"), "kept\n");
    const again = upload(root, packed.id, packed.archive);
    assert.equal(again.status, 0);
    assert.match(again.stdout, /already on the host/);
    assert.equal(readFileSync(join(root, "releases", packed.id, "marker"), "utf8"), "kept\n");
  });

  test("a truncated upload is refused and leaves no release directory behind", () => {
    const packed = packRelease(app());
    const root = mkdtempSync(join(tmpdir(), "root-"));
    const r = upload(root, packed.id, packed.archive.subarray(0, 100), packed.archive);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /refusing release [0-9a-f]{16}: the archive that arrived \(100 bytes, sha256 [0-9a-f]{64}\) is not the one this up packed/,
    );
    assert.deepEqual(readdirSync(join(root, "releases")), []);
    assert.ok(existsSync(r.copy), "the copy stays for the next try");
  });

  test("an archive other than the one packed is refused by its sha256 before anything is unpacked", () => {
    const root = mkdtempSync(join(tmpdir(), "root-"));
    const packed = packRelease(app());
    // Another archive, one tar would unpack happily: it never gets that far.
    const r = upload(root, packed.id, crafted("setuid"), packed.archive);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      new RegExp(`is not the one this up packed \\(sha256 ${packed.sha256}\\)`),
    );
    assert.deepEqual(readdirSync(join(root, "releases")), []);
  });

  test("the copy is unpacked, then removed; without one the upload says what to do, unless the release is already there", () => {
    const root = mkdtempSync(join(tmpdir(), "root-"));
    const packed = packRelease(app());
    const none = upload(root, packed.id, undefined, packed.archive);
    assert.equal(none.status, 1);
    assert.match(
      none.stderr,
      /cannot read its copy as the SSH user: cat: .*uploads\/.*\.tar\.gz: No such file or directory .*--replace on the release's copy resource/,
    );
    assert.deepEqual(readdirSync(join(root, "releases")), []);
    const r = upload(root, packed.id, packed.archive);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /release [0-9a-f]{16} unpacked/);
    assert.ok(!existsSync(r.copy), "the copy is removed once unpacked");
    // The upload run again without its copy (a new key, a reinstalled helper): nothing to do.
    const again = upload(root, packed.id, undefined, packed.archive);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /already on the host/);
  });

  test("an app root another user can change is refused before root makes anything in it", (t) => {
    if (process.getuid?.() !== 0) return t.skip("needs root to give directories away");
    const root = mkdtempSync(join(tmpdir(), "root-"));
    spawnSync("chown", ["nobody", root]);
    const packed = packRelease(app());
    const r = upload(root, packed.id, packed.archive);
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
    const r = upload(root, id, crafted("setuid"));
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
      const r = upload(root, "00000000000000bb", crafted(kind));
      assert.equal(r.status, 1, `${kind}: ${r.stderr}`);
      assert.match(r.stderr, /entries other than files, directories and symlinks/);
      assert.deepEqual(readdirSync(join(root, "releases")), [], kind);
    }
  });

  test("the archive is kept in the local cache by its hash: the same app, the same file; old ones go", () => {
    const cache = mkdtempSync(join(tmpdir(), "cache-"));
    const dir = app();
    const path = cacheRelease(packRelease(dir), cache);
    assert.equal(path, join(cache, `${packRelease(dir).sha256}.tar.gz`));
    assert.ok(readFileSync(path).equals(packRelease(dir).archive));
    assert.equal(statSync(path).mode & 0o777, 0o600, "private: the app may hold keys");
    assert.equal(statSync(cache).mode & 0o777, 0o700);
    // Packed again, the same path (and so the same asset hash in the state); touched.
    const old = new Date(Date.now() - 2 * RELEASE_CACHE_KEEP_MS);
    utimesSync(path, old, old);
    assert.equal(cacheRelease(packRelease(dir), cache), path);
    assert.ok(statSync(path).mtimeMs > old.getTime());
    // A file changed under it is written again; archives nobody packed lately are removed.
    writeFileSync(path, "damaged");
    const stale = join(cache, `${"0".repeat(64)}.tar.gz`);
    const recent = join(cache, `${"1".repeat(64)}.tar.gz`);
    writeFileSync(stale, "old");
    utimesSync(stale, old, old);
    writeFileSync(recent, "another stack's, just packed");
    writeFileSync(join(dir, "manage.py"), "print('v2')\n");
    const next = cacheRelease(packRelease(dir), cache);
    assert.notEqual(next, path);
    assert.equal(cacheRelease(packRelease(app()), cache), path);
    assert.ok(readFileSync(path).equals(packRelease(app()).archive));
    assert.ok(!existsSync(stale));
    assert.ok(existsSync(recent));
  });

  test("each app root has its own copy, in the SSH user's uploads directory", () => {
    assert.match(
      releaseUploadPath("/srv/site"),
      /^\.gunicorn-upstart\/uploads\/srv_site-[0-9a-f]{8}\.tar\.gz$/,
    );
    assert.notEqual(releaseUploadPath("/srv/a_b"), releaseUploadPath("/srv/a/b"));
    assert.doesNotMatch(releaseUploadPath("/srv/x y/'$(id)'"), /[^\w./-]/);
  });

  test("a missing app directory is refused naming appSource", () => {
    assert.throws(
      () => packRelease("/nonexistent/app"),
      (e: unknown) => e instanceof SpecError && e.field === "appSource",
    );
  });
});

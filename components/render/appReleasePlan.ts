/**
 * App releases, local parts: a deterministic archive of the app's local directory (the same
 * tree always gives the same bytes, so an unchanged app means a no-op `up`), its release id,
 * and the file the archive is kept in locally, named by its hash, for the command provider to
 * copy to the host (the state then keeps that file's path and hash, never its content). A
 * release is unpacked into `<appRoot>/releases/<id>`; the lifecycle switches
 * `<appRoot>/current` to it and reloads (see lifecycleScripts.ts).
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join, posix } from "node:path";
import { gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { SpecError } from "./spec";

/**
 * What a release never ships unless the app's ignore file re-includes it (`!pattern`): what
 * lives next to the code but is not code — secrets (`.env`), data (`*.sqlite3`, `media/`),
 * environments and dependencies built on another machine, VCS data, bytecode, editor litter.
 * It would otherwise be copied to every host and kept in every release.
 */
export const DEFAULT_IGNORES = [
  ".env",
  ".env.*",
  "*.sqlite3",
  "venv/",
  ".venv/",
  "media/",
  "node_modules/",
  ".git/",
  ".hg/",
  ".svn/",
  "__pycache__/",
  "*.pyc",
  ".DS_Store",
] as const;

/** The app's own ignore file (`.gitignore` syntax), read after the defaults; not shipped. */
export const IGNORE_FILE = ".deployignore";

interface IgnoreRule {
  negate: boolean;
  dirOnly: boolean;
  regex: RegExp;
}

const literal = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** A `.gitignore` glob as a regular expression over a relative POSIX path. */
function globRegex(glob: string, anchored: boolean): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*" && glob[i + 1] === "*") {
      // `**/` is any number of directories; a trailing `/**` everything inside.
      if (glob[i + 2] === "/") {
        re += "(?:.*/)?";
        i += 2;
      } else {
        re += ".*";
        i += 1;
      }
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        re += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else if (c === "\\" && i + 1 < glob.length) re += literal(glob[++i] as string);
    else re += literal(c);
  }
  return new RegExp(anchored ? `^${re}$` : `^(?:.*/)?${re}$`);
}

/** Parses `.gitignore` lines: comments, blanks, `!` negation, a trailing `/` for directories. */
export function parseIgnore(lines: readonly string[]): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of lines) {
    let line = raw.replace(/(?<!\\)\s+$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    if (negate) line = line.slice(1);
    if (line.startsWith("\\#") || line.startsWith("\\!")) line = line.slice(1);
    const dirOnly = line.endsWith("/");
    if (dirOnly) line = line.slice(0, -1);
    // A slash anywhere but at the end anchors the pattern to the app's top directory.
    const anchored = line.includes("/");
    if (line.startsWith("/")) line = line.slice(1);
    if (line === "") continue;
    rules.push({ negate, dirOnly, regex: globRegex(line, anchored) });
  }
  return rules;
}

/** Whether a path is left out: the last rule that matches decides, as in Git. */
export function isIgnored(rules: readonly IgnoreRule[], path: string, isDir: boolean): boolean {
  let ignored = false;
  for (const rule of rules) {
    if (rule.dirOnly && !isDir) continue;
    if (rule.regex.test(path)) ignored = !rule.negate;
  }
  return ignored;
}

interface Entry {
  path: string;
  kind: "file" | "dir" | "symlink";
  mode: number;
  data?: Buffer;
  target?: string;
}

/** The tree under `root`, less what `rules` leave out (an ignored directory's whole subtree). */
function walk(root: string, rules: readonly IgnoreRule[], rel = ""): Entry[] {
  const out: Entry[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    const relPath = rel === "" ? name : posix.join(rel, name);
    if (relPath === IGNORE_FILE) continue;
    const full = join(root, relPath);
    const st = lstatSync(full);
    if (isIgnored(rules, relPath, st.isDirectory())) continue;
    if (st.isSymbolicLink()) {
      out.push({ path: relPath, kind: "symlink", mode: 0o777, target: readlinkSync(full) });
    } else if (st.isDirectory()) {
      out.push({ path: relPath, kind: "dir", mode: 0o755 });
      out.push(...walk(root, rules, relPath));
    } else if (st.isFile()) {
      // Only the executable bit is kept: owners and other bits are the host's business.
      out.push({
        path: relPath,
        kind: "file",
        mode: st.mode & 0o111 ? 0o755 : 0o644,
        data: readFileSync(full),
      });
    }
  }
  return out;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** A PAX record "LEN key=value\n", where LEN counts the whole record including itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len++;
  return `${len}${body}`;
}

/** One ustar header block for a name, type and size (names are cut to fit; PAX has the rest). */
function block(
  name: string,
  kind: "0" | "2" | "5" | "x",
  mode: number,
  size: number,
  target = "",
): Buffer {
  const b = Buffer.alloc(512, 0);
  b.write(name.slice(0, 100), 0, 100, "utf8");
  b.write(octal(mode, 8), 100, "ascii");
  b.write(octal(0, 8), 108, "ascii");
  b.write(octal(0, 8), 116, "ascii");
  b.write(octal(size, 12), 124, "ascii");
  b.write(octal(0, 12), 136, "ascii"); // mtime 0: the same tree gives the same archive
  b.write("        ", 148, "ascii");
  b.write(kind, 156, "ascii");
  b.write(target.slice(0, 100), 157, 100, "utf8");
  b.write("ustar\0", 257, "ascii");
  b.write("00", 263, "ascii");
  b.write("root", 265, "ascii");
  b.write("root", 297, "ascii");
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(octal(sum, 7) + " ", 148, "ascii");
  return b;
}

function padded(data: Buffer): Buffer[] {
  return [data, Buffer.alloc((512 - (data.length % 512)) % 512, 0)];
}

/** The blocks of one entry: a PAX header first when its name or link target is too long. */
function entryBlocks(e: Entry): Buffer[] {
  const name = e.kind === "dir" ? `${e.path}/` : e.path;
  const target = e.target ?? "";
  let pax = "";
  if (Buffer.byteLength(name) > 100) pax += paxRecord("path", name);
  if (Buffer.byteLength(target) > 100) pax += paxRecord("linkpath", target);
  const out: Buffer[] = [];
  if (pax !== "") {
    const data = Buffer.from(pax, "utf8");
    out.push(block("././@PaxHeader", "x", 0o644, data.length), ...padded(data));
  }
  const kind = e.kind === "file" ? "0" : e.kind === "dir" ? "5" : "2";
  out.push(block(name, kind, e.mode, e.data?.length ?? 0, target));
  if (e.data) out.push(...padded(e.data));
  return out;
}

/** A packed release: its id (content hash) and the gzipped tar. */
export interface PackedRelease {
  /** 16 hex digits of the tar's sha256: the release's directory name on the host. */
  id: string;
  /** The gzipped tar, as copied to the host. */
  archive: Buffer;
  /** sha256 of {@link archive} (hex): the host checks it before it unpacks anything. */
  sha256: string;
  files: number;
  bytes: number;
}

/** Packs a local app directory deterministically. */
export function packRelease(dir: string): PackedRelease {
  let entries: Entry[];
  try {
    if (!lstatSync(dir).isDirectory()) throw new Error("not a directory");
    const own = join(dir, IGNORE_FILE);
    const lines = existsSync(own) ? readFileSync(own, "utf8").split("\n") : [];
    entries = walk(dir, parseIgnore([...DEFAULT_IGNORES, ...lines]));
  } catch (e) {
    throw new SpecError(
      "appSource",
      `cannot read the app directory ${JSON.stringify(dir)}: ${(e as Error).message}`,
    );
  }
  const parts: Buffer[] = entries.flatMap(entryBlocks);
  parts.push(Buffer.alloc(1024, 0));
  const tar = Buffer.concat(parts);
  const id = createHash("sha256").update(tar).digest("hex").slice(0, 16);
  const archive = gzipSync(tar, { level: 9 });
  return {
    id,
    archive,
    sha256: createHash("sha256").update(archive).digest("hex"),
    files: entries.filter((e) => e.kind === "file").length,
    bytes: tar.length,
  };
}

/**
 * Where archives wait for the command provider to copy them: this user's cache, outside any
 * project (`$GUNICORN_UPSTART_CACHE/releases`, default `~/.cache/gunicorn-upstart/releases`,
 * the rule of scripts/cache-dir.sh, which the installed package does not ship).
 */
export function releaseCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache =
    env.GUNICORN_UPSTART_CACHE ??
    join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "gunicorn-upstart");
  return join(cache, "releases");
}

/** Archives nobody has packed for this long are removed; every run rewrites what it needs. */
export const RELEASE_CACHE_KEEP_MS = 24 * 60 * 60 * 1000;

/**
 * Keeps the archive in `dir` as `<sha256>.tar.gz` and returns its path: the same app gives
 * the same path and bytes, so the asset's hash (all the state holds of it) is unchanged and
 * an unchanged app copies nothing. Written to a temp file and renamed (a concurrent `up`
 * reading the file sees a whole archive), private to this user (the app may hold keys); a
 * file already there with the same bytes is only touched. Files untouched for
 * {@link RELEASE_CACHE_KEEP_MS} are removed: the engine reads an archive only in the run
 * whose program wrote or touched it, so removing older ones loses nothing.
 */
export function cacheRelease(packed: PackedRelease, dir: string = releaseCacheDir()): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${packed.sha256}.tar.gz`);
  const now = new Date();
  if (existsSync(path) && readFileSync(path).equals(packed.archive)) {
    utimesSync(path, now, now);
  } else {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, packed.archive, { mode: 0o600 });
    renameSync(tmp, path);
  }
  for (const name of readdirSync(dir)) {
    const other = join(dir, name);
    if (other === path) continue;
    try {
      if (now.getTime() - statSync(other).mtimeMs > RELEASE_CACHE_KEEP_MS) rmSync(other);
    } catch {
      // Another run removed it first.
    }
  }
  return path;
}

/**
 * App releases, pure parts: a deterministic archive of the app's local directory (the same
 * tree always gives the same bytes, so an unchanged app means a no-op `up`), its release id,
 * and the host-side upload script. A release is unpacked into `<appRoot>/releases/<id>`; the
 * lifecycle switches `<appRoot>/current` to it and reloads (see lifecycleScripts.ts).
 */
import { readdirSync, readFileSync, lstatSync, readlinkSync } from "node:fs";
import { join, posix } from "node:path";
import { gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { shQuote } from "./shell";
import { SpecError } from "./spec";

/** Names never shipped: VCS data, bytecode and editor litter. */
const SKIP = new Set([".git", ".hg", ".svn", "__pycache__", ".DS_Store", "node_modules", ".venv"]);

interface Entry {
  path: string;
  kind: "file" | "dir" | "symlink";
  mode: number;
  data?: Buffer;
  target?: string;
}

function walk(root: string, rel = ""): Entry[] {
  const out: Entry[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    if (SKIP.has(name) || name.endsWith(".pyc")) continue;
    const relPath = rel === "" ? name : posix.join(rel, name);
    const full = join(root, relPath);
    const st = lstatSync(full);
    if (st.isSymbolicLink()) {
      out.push({ path: relPath, kind: "symlink", mode: 0o777, target: readlinkSync(full) });
    } else if (st.isDirectory()) {
      out.push({ path: relPath, kind: "dir", mode: 0o755 });
      out.push(...walk(root, relPath));
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

/** One ustar header block; names up to 255 bytes via the prefix field. */
function header(e: Entry): Buffer {
  const block = Buffer.alloc(512, 0);
  let name = e.kind === "dir" ? `${e.path}/` : e.path;
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", name.length - 2);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) {
      throw new SpecError("appSource", `path too long for the release archive: ${e.path}`);
    }
  }
  block.write(name, 0, 100, "utf8");
  block.write(octal(e.mode, 8), 100, "ascii");
  block.write(octal(0, 8), 108, "ascii");
  block.write(octal(0, 8), 116, "ascii");
  block.write(octal(e.data?.length ?? 0, 12), 124, "ascii");
  block.write(octal(0, 12), 136, "ascii"); // mtime 0: the same tree gives the same archive
  block.write("        ", 148, "ascii");
  block.write(e.kind === "file" ? "0" : e.kind === "dir" ? "5" : "2", 156, "ascii");
  if (e.target !== undefined) block.write(e.target, 157, 100, "utf8");
  block.write("ustar\0", 257, "ascii");
  block.write("00", 263, "ascii");
  block.write("root", 265, "ascii");
  block.write("root", 297, "ascii");
  block.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + " ", 148, "ascii");
  return block;
}

/** A packed release: its id (content hash) and the gzipped tar as base64 text for stdin. */
export interface PackedRelease {
  id: string;
  archiveBase64: string;
  files: number;
  bytes: number;
}

/** Packs a local app directory deterministically. */
export function packRelease(dir: string): PackedRelease {
  let entries: Entry[];
  try {
    if (!lstatSync(dir).isDirectory()) throw new Error("not a directory");
    entries = walk(dir);
  } catch (e) {
    if (e instanceof SpecError) throw e;
    throw new SpecError(
      "appSource",
      `cannot read the app directory ${JSON.stringify(dir)}: ${(e as Error).message}`,
    );
  }
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e));
    if (e.data) {
      parts.push(e.data);
      const pad = (512 - (e.data.length % 512)) % 512;
      parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(1024, 0));
  const tar = Buffer.concat(parts);
  const id = createHash("sha256").update(tar).digest("hex").slice(0, 16);
  return {
    id,
    archiveBase64: gzipSync(tar, { level: 9 }).toString("base64"),
    files: entries.filter((e) => e.kind === "file").length,
    bytes: tar.length,
  };
}

/**
 * Unpacks the release from stdin into `<appRoot>/releases/<id>` unless it is already there:
 * into a temp dir first, checked for the expected byte count and gzip integrity, then renamed,
 * so a release directory is always complete. Releases are app code: never removed on destroy.
 */
export function renderUploadScript(appRoot: string, id: string, expectedBytes: number): string {
  return [
    "set -euo pipefail",
    `ROOT=${shQuote(appRoot)}`,
    `ID=${shQuote(id)}`,
    `expected_bytes=${expectedBytes}`,
    'dir="$ROOT/releases/$ID"',
    'if [ -f "$dir/.gunicorn-upstart-release" ]; then',
    "  cat > /dev/null",
    '  echo "gunicorn-upstart: release $ID is already on the host"',
    "  exit 0",
    "fi",
    'mkdir -p -- "$ROOT/releases"',
    'tmp=$(mktemp -d "$ROOT/releases/.incoming.XXXXXXXX")',
    "trap 'rm -rf -- \"$tmp\"' EXIT",
    'cat > "$tmp/payload"',
    'actual_bytes=$(wc -c < "$tmp/payload")',
    'if [ "$actual_bytes" -ne "$expected_bytes" ]; then',
    '  echo "refusing release $ID: received $actual_bytes of $expected_bytes bytes" >&2',
    "  exit 1",
    "fi",
    'mkdir "$tmp/tree"',
    'base64 -d "$tmp/payload" | tar -xzf - -C "$tmp/tree" --no-same-owner',
    'chmod 0755 "$tmp/tree"',
    'touch "$tmp/tree/.gunicorn-upstart-release"',
    'rm -rf -- "$dir"',
    'mv -T -- "$tmp/tree" "$dir"',
    'echo "gunicorn-upstart: release $ID unpacked"',
    "",
  ].join("\n");
}

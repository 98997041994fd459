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
    throw new SpecError(
      "appSource",
      `cannot read the app directory ${JSON.stringify(dir)}: ${(e as Error).message}`,
    );
  }
  const parts: Buffer[] = entries.flatMap(entryBlocks);
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

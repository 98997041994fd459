import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

/**
 * A release archive (gzipped tar, base64, as the upload reads it) with what our packer never
 * makes, written by Python's tarfile: a `06755` copy of `binary` named `name`, and with `device`
 * also a character device node (`/dev/mem`'s numbers), with `devices` 2000 of them, with
 * `hardlink` also a hard link to it, with `marker-link` also our release marker's name as a
 * link to `binary` (a path root would create or touch).
 */
export function craftedRelease(
  kind: "setuid" | "device" | "devices" | "hardlink" | "marker-link",
  name = "x",
  binary = "/bin/true",
): string {
  const py = [
    "import base64, io, sys, tarfile",
    "kind, name, binary = sys.argv[1:4]",
    "buf = io.BytesIO()",
    "with tarfile.open(fileobj=buf, mode='w:gz') as t:",
    "    data = b'' if kind == 'marker-link' else open(binary, 'rb').read()",
    "    f = tarfile.TarInfo(name); f.size = len(data); f.mode = 0o6755",
    "    t.addfile(f, io.BytesIO(data))",
    "    for i in range({'device': 1, 'devices': 2000}.get(kind, 0)):",
    "        d = tarfile.TarInfo('mem%d' % i); d.type = tarfile.CHRTYPE; d.devmajor = 1; d.devminor = 1; d.mode = 0o666",
    "        t.addfile(d)",
    "    if kind == 'marker-link':",
    "        m = tarfile.TarInfo('.gunicorn-upstart-release'); m.type = tarfile.SYMTYPE; m.linkname = binary",
    "        t.addfile(m)",
    "    if kind == 'hardlink':",
    "        h = tarfile.TarInfo('shadow'); h.type = tarfile.LNKTYPE; h.linkname = name",
    "        t.addfile(h)",
    "sys.stdout.write(base64.b64encode(buf.getvalue()).decode())",
  ].join("\n");
  const r = spawnSync("python3", ["-c", py, kind, name, binary], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

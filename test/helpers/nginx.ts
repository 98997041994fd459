// The real nginx and openssl for tests of rendered sites: a throwaway certificate, and
// `nginx -t` of a configuration shaped like Debian's that includes only the site.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A directory with a self-signed `cert.pem` and its `key.pem` (one day, for `nginx -t`). */
export function throwawayCertificate(): { dir: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "nginx-tls-"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const r = spawnSync(
    "openssl",
    ["req", "-x509", "-nodes", "-newkey", "rsa:2048", "-days", "1", "-subj", "/CN=test"].concat([
      "-keyout",
      key,
      "-out",
      cert,
    ]),
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { dir, cert, key };
}

/** nginx -t of a configuration shaped like Debian's, including only `site` (run as root). */
export function nginxTest(site: string, dir: string): { status: number | null; out: string } {
  writeFileSync(join(dir, "site.conf"), site);
  writeFileSync(
    join(dir, "nginx.conf"),
    [
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log;`,
      "events {}",
      "http {",
      "    include /etc/nginx/mime.types;",
      `    access_log ${dir}/access.log;`,
      `    include ${dir}/site.conf;`,
      "}",
      "",
    ].join("\n"),
  );
  const r = spawnSync("nginx", ["-t", "-p", dir, "-c", join(dir, "nginx.conf")], {
    encoding: "utf8",
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

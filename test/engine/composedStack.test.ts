// A TypeScript stack that composes the library as another team would: the package from
// `npm pack`, installed with the compiler into a fresh project, the two-services example
// (index.ts and twoServices.ts, importing "gunicorn-upstart") as its program, and real
// `pulumi up` and `destroy` (the toolchain's CLI and Node.js language host, the command
// provider) on a bare test host: both sites prepared, built (pip from PyPI), served by one
// nginx over TLS by server name, then removed. Real OpenSSH, sudo, bash, nginx, OpenSSL, pip,
// Gunicorn and Django; Upstart played by test/host/initctl. Skipped, saying why, where the
// command provider is missing (test/package/install.test.ts runs the same program under mocks).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../helpers/freePort";
import { startTestHost, type TestHost } from "../integration/testHost";
import { assertKeyNotIn, cliIn, commandProviderMissing } from "./realCli";
import { consumerProject, packLibrary } from "../helpers/consumer";

const ROOT = resolve(__dirname, "../..");
const SKIP = commandProviderMissing();
process.stdout.write(`# composed stack: ${SKIP === undefined ? "runs" : `needs ${SKIP}`}\n`);

/** The demo app as app `name`: its package renamed, so each site is its own Django project. */
function demoAs(name: string, dir: string) {
  cpSync(join(ROOT, "examples/hello-django"), dir, { recursive: true });
  renameSync(join(dir, "hello"), join(dir, name));
  const files = ["manage.py", ...readdirSync(join(dir, name)).map((f) => join(name, f))];
  for (const file of files.filter((f) => f.endsWith(".py"))) {
    const path = join(dir, file);
    writeFileSync(path, readFileSync(path, "utf8").replace(/"hello([."])/g, `"${name}$1`));
  }
}

/** The page a site answers for its server name over TLS (curl: the certificate is self-signed). */
function page(name: string, port: number): string {
  const r = spawnSync(
    "curl",
    [
      "-sk",
      "--max-time",
      "10",
      "--resolve",
      `${name}:${port}:127.0.0.1`,
      `https://${name}:${port}/`,
    ],
    { encoding: "utf8" },
  );
  return r.status === 0 ? r.stdout : `curl status ${r.status}`;
}

describe("a composing TypeScript stack from the packed library", { timeout: 1_800_000 }, () => {
  let dir: string;
  let host: TestHost;

  before(async () => {
    if (SKIP !== undefined) return;
    dir = mkdtempSync(join(tmpdir(), "composed-"));
    mkdirSync(join(dir, "state"));
    const { tarball } = packLibrary(dir);
    const devVersions = (
      JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
        devDependencies: Record<string, string>;
      }
    ).devDependencies;
    // The compiler too, as `pulumi new typescript` has it: the language host type-checks with it.
    const project = consumerProject(join(dir, "consumer"), tarball, [
      `@types/node@${devVersions["@types/node"]}`,
      `typescript@${devVersions.typescript}`,
    ]);
    writeFileSync(join(project, "Pulumi.yaml"), "name: consumer\nruntime: nodejs\n");
    demoAs("shop", join(project, "apps/shop"));
    demoAs("blog", join(project, "apps/blog"));
    host = await startTestHost("");
  });
  after(() => {
    host?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test(
    "up serves both sites through one nginx by name over TLS; destroy removes both",
    { skip: SKIP },
    async () => {
      const { ok, run: pulumi } = cliIn(dir);
      const [httpPort, httpsPort] = [await freePort(), await freePort()];
      ok("consumer", ["stack", "init", "test"]);
      const set = (key: string, value: string, secret = false) =>
        ok("consumer", ["config", "set", ...(secret ? ["--secret"] : []), key, "--", value]);
      set("host", "127.0.0.1");
      set("sshPort", String(host.port));
      set("sshUser", host.user);
      ok("consumer", ["config", "set", "--secret", "sshPrivateKey"], host.privateKey);
      set("shopSource", "apps/shop");
      set("blogSource", "apps/blog");
      set("init", "upstart"); // the test host's (the stand-in)
      set("httpPort", String(httpPort));
      set("httpsPort", String(httpsPort));
      ok("consumer", ["config", "set", "--path", "hostPackages[0]", "python3"]);
      ok("consumer", ["config", "set", "--path", "hostPackages[1]", "python3-venv"]);

      const up = ok("consumer", ["up", "--yes", "--skip-preview"]);
      assert.match(up, /shop: start \(master pid \d+\)/);
      assert.match(up, /blog: start \(master pid \d+\)/);
      assert.match(page("shop.example.com", httpsPort), /Hello from Django on Gunicorn/);
      assert.match(page("blog.example.com", httpsPort), /Hello from Django on Gunicorn/);
      const outputs = JSON.parse(
        pulumi("consumer", ["stack", "output", "--json"]).stdout,
      ) as Record<string, string>;
      assert.match(outputs.shopUrl ?? "", new RegExp(`^https://.*:${httpsPort}/$`));

      assertKeyNotIn(ok("consumer", ["stack", "export"]), host.privateKey);

      ok("consumer", ["destroy", "--yes", "--skip-preview"]);
      for (const job of ["shop", "blog"]) {
        assert.equal(host.mainPid(job), undefined, `${job}: no master runs`);
        assert.equal(host.root(`test -e ${host.initFile(job)}`).status, 1, `${job}: job file gone`);
      }
      assert.doesNotMatch(page("shop.example.com", httpsPort), /Hello from Django/);
    },
  );
});

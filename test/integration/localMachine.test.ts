// The default stack, end to end on the local machine: with the stack's own defaults
// (Pulumi.yaml) and its own wiring (components/stackProgram.ts), one up boots a Debian
// machine with systemd-nspawn (real systemd, real sshd), prepares it, builds the virtualenv
// from PyPI, deploys examples/hello-django as a release and serves it; a second up runs
// nothing; destroy stops the machine and leaves nothing running. The lifecycle runs on the
// replay (no command provider here, see replay.ts); the machine, SSH, systemd, pip, Gunicorn
// and Django are real.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { freePorts } from "../helpers/freePort";
import { readProjectConfig } from "../../components/render/projectConfig";
import { readStackConfig } from "../../components/render/stackConfig";
import { deployStack } from "../../components/stackProgram";
import { LOCAL_MACHINE_DEFAULTS } from "../../components/render/localMachine";
import { phases, recorder } from "./replay";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

const ROOT = resolve(__dirname, "../..");
let stateDir: string;
let replay: LifecycleEngine;
let appPort: number;
let sshPort: number;
let httpPort: number;
let httpsPort: number;
const name = `itest-${process.pid}`;

function program() {
  const defaults = readProjectConfig(ROOT, undefined);
  const overrides: Record<string, string> = {
    bind: `127.0.0.1:${appPort}`,
    httpPort: String(httpPort),
    httpsPort: String(httpsPort),
    sshPort: String(sshPort),
    // The demo is deployed from the repository, as `npm run up` does from its directory.
    appSource: join(ROOT, "examples/hello-django"),
  };
  const stack = readStackConfig({ get: (k) => overrides[k] ?? defaults.get(k) });
  return () => {
    const { service } = deployStack(stack, {
      appEnv: stack.appEnv,
      privateKey: () => pulumi.output("unused"),
      machineName: name,
      machineStateDir: stateDir,
      opts: { transformations: [recorder] },
    });
    return [
      service.status,
      service.url.apply((u) => (site.url = u)),
      service.tlsCertificate.apply((c) => (site.certificate = c)),
    ];
  };
}
const site: { url?: string; certificate?: string | undefined } = {};

/** A request through nginx over HTTPS, trusting only the site's own certificate (curl). */
const get = async (path: string) => {
  const ca = join(stateDir, "site.crt");
  writeFileSync(ca, site.certificate ?? "");
  const r = spawnSync(
    "curl",
    ["-sS", "--max-time", "10", "--cacert", ca, "-D", "-", `${site.url}${path.replace(/^\//, "")}`],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`curl: ${r.stderr}`);
  const [headers = "", body = ""] = r.stdout.split("\r\n\r\n");
  return { status: Number(/^HTTP\/\S+ (\d+)/.exec(headers)?.[1] ?? 0), headers, body };
};

describe("the default stack on the local machine", { timeout: 900_000 }, () => {
  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "machines-"));
    // Distinct ports: two separate calls may return the same one.
    [appPort, sshPort, httpPort, httpsPort] = (await freePorts(4)) as [
      number,
      number,
      number,
      number,
    ];
    // No test host: the machine's connection is the program's own.
    replay = lifecycleEngine();
  });
  after(() => {
    // Whatever happened, leave no machine running.
    spawnSync("bash", [
      "-c",
      `[ -f ${stateDir}/${name}/pid ] && kill -KILL -- -"$(cat ${stateDir}/${name}/pid)"; true`,
    ]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  test("one up boots the machine and deploys the demo, which answers on 127.0.0.1", async () => {
    const ran = await replay.up(program());
    const ops = phases(ran);
    assert.equal(
      `${ran[0]!.op} ${ran[0]!.name}`,
      "create app-machine-machine",
      "the machine first",
    );
    assert.ok(ops.includes("create app-host-prepare"), ops.join(", "));
    assert.ok(ops.includes("create app-python-install"), ops.join(", "));
    assert.ok(ops.includes("create app-release-upload"), ops.join(", "));
    assert.deepEqual(ops.slice(-2), ["create app-service-lifecycle", "create app-nginx-site"]);
    const lifecycle = ran.find((r) => r.name === "app-service-lifecycle")!;
    assert.match(lifecycle.stdout, /hello: start \(master pid \d+\)/);
    assert.match(lifecycle.stdout, /1 static file copied to '\/srv\/hello\/static'/);
    // The default stack's site: HTTPS through nginx, its certificate made on the machine.
    assert.equal(site.url, `https://127.0.0.1:${httpsPort}/`);
    const page = await get("/");
    assert.equal(page.status, 200);
    assert.match(page.body, /Hello from Django on Gunicorn/);
    assert.equal((await get("/health")).status, 200);
    const css = await get("/static/hello/site.css");
    assert.equal(css.status, 200);
    assert.match(css.headers, /^content-type: text\/css/im);
    assert.ok(existsSync(join(stateDir, name, "pid")), "the machine outlives the up");
  });

  test("a second up changes nothing", async () => {
    assert.deepEqual(phases(await replay.up(program())), []);
  });

  test("destroy stops the service and the machine, and leaves nothing running", async () => {
    const pid = spawnSync("cat", [join(stateDir, name, "pid")], { encoding: "utf8" }).stdout.trim();
    const ran = await replay.destroy();
    assert.deepEqual(
      ran.slice(0, 2).map((r) => r.name),
      ["app-nginx-site", "app-service-lifecycle"],
      "the site goes before the service stops",
    );
    assert.equal(ran.at(-1)!.name, "app-machine-machine");
    await assert.rejects(get("/"), "the site refuses connections");
    await assert.rejects(fetch(`http://127.0.0.1:${appPort}/`), "so does Gunicorn");
    assert.equal(spawnSync("kill", ["-0", pid]).status, 1, "no machine process");
    assert.equal(existsSync(join(stateDir, name)), false, "its disk is gone");
    assert.equal(LOCAL_MACHINE_DEFAULTS.user, "deploy");
  });
});

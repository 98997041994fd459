// A service on an existing host does not load @pulumi/aws: ./vm (and with it the AWS SDK) is
// loaded only when a service provisions a VM. This is what lets the package for Python and
// YAML (plugin/) run without @pulumi/aws installed, and spares every other program its load.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");

function loaded(module: string): { aws: boolean; ms: number } {
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      `const t = Date.now(); require(${JSON.stringify(module)});
       const ms = Date.now() - t;
       const aws = Object.keys(require.cache).some((k) => k.includes("/@pulumi/aws/"));
       console.log(JSON.stringify({ aws, ms }));`,
    ],
    { cwd: ROOT, encoding: "utf8", timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as { aws: boolean; ms: number };
}

test("GunicornService loads no AWS SDK; the VM module does", () => {
  const service = loaded("./components/gunicornService");
  const vm = loaded("./components/vm");
  assert.equal(service.aws, false, "gunicornService loaded @pulumi/aws");
  assert.equal(vm.aws, true, "the check itself sees @pulumi/aws when it is loaded");
  process.stdout.write(`# load: gunicornService ${service.ms} ms, vm ${vm.ms} ms\n`);
});

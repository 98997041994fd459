// The warm reload's hooks as Gunicorn takes them: the rendered config is run by Python and its
// hooks pass Gunicorn's own validators (Debian's 20.1, the hosts' Gunicorn), for both
// strategies; what they ask of the app follows the health gate's settings. Their behaviour
// under load is test/integration/warmReload.test.ts's.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { normalizeSpec, type ServiceSettings } from "../../components/render/spec";
import { renderGunicornConfig } from "../../components/render/gunicornConfig";
import { HOOKS_MODULE, warmTimeoutSeconds } from "../../components/render/warmReload";
import { hooksPath } from "../../components/render/spec";
import { hostText } from "../../components/render/hostProgram";

/**
 * Runs the config as Gunicorn does, with the hooks' module beside it as on the host, and returns
 * its hooks' names and the _WARM_ values the module's hooks read.
 */
function load(settings: ServiceSettings): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), "warm-"));
  try {
    const path = join(dir, "gunicorn.conf.py");
    const spec = normalizeSpec(settings);
    writeFileSync(path, renderGunicornConfig(spec, {}));
    const hooks = hooksPath(spec);
    writeFileSync(join(dir, hooks.slice(hooks.lastIndexOf("/") + 1)), hostText(HOOKS_MODULE));
    const script = [
      "import json, runpy, sys",
      "from gunicorn.config import Config",
      "ns = runpy.run_path(sys.argv[1])",
      "cfg = Config()",
      // The hooks through Gunicorn's validators (a callable of the right arity).
      "for key in ('on_reload', 'post_worker_init', 'on_starting', 'workers'):",
      "    cfg.set(key, ns[key])",
      "out = {k: v for k, v in ns['_hooks'].items() if k.startswith('_WARM_')}",
      "out['on_reload'] = cfg.on_reload.__name__",
      "out['post_worker_init'] = cfg.post_worker_init.__name__",
      "out['on_starting'] = cfg.on_starting.__name__",
      "print(json.dumps(out))",
    ].join("\n");
    const r = spawnSync("/usr/bin/python3", ["-c", script, path], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the warm reload's hooks in the Gunicorn config", () => {
  test("warm (the default) sets Gunicorn's on_reload to the warm one; hup to one that does nothing", () => {
    assert.equal(load({}).on_reload, "_warm_on_reload");
    assert.equal(load({ reloadStrategy: "hup" }).on_reload, "_hup_on_reload");
    // post_worker_init reports only while a warm reload waits: harmless under hup.
    assert.equal(load({ reloadStrategy: "hup" }).post_worker_init, "_warm_post_worker_init");
    // The boot-failure hook (components/render/bootFailure.ts) is there under both.
    assert.equal(load({}).on_starting, "_halt_on_starting");
    assert.equal(load({ reloadStrategy: "hup" }).on_starting, "_halt_on_starting");
  });

  test("the new workers are asked what the health gate asks, within what the gate leaves", () => {
    const values = load({
      bind: "0.0.0.0:9000",
      healthCheckPath: "/health?deep=1",
      healthyStatusBelow: 300,
      startTimeout: 20,
    });
    assert.equal(values._WARM_PATH, "/health");
    assert.equal(values._WARM_QUERY, "deep=1");
    // A wildcard bind is asked on loopback, like the gate does.
    assert.equal(values._WARM_HOST, "127.0.0.1");
    assert.equal(values._WARM_PORT, "9000");
    assert.equal(values._WARM_HEALTHY_BELOW, 300);
    assert.equal(values._WARM_TIMEOUT, 17);
    assert.ok((values._WARM_AT_ONCE as number) >= 1);
    assert.equal(
      load({ bind: "127.0.0.1:9000", healthCheckHost: "www.example.com" })._WARM_HOST,
      "www.example.com",
    );
  });

  test("a unix socket bind: ready once the app has loaded, unless a Host is named", () => {
    assert.equal(load({ bind: "unix:/run/site/gunicorn.sock" })._WARM_PATH, null);
    const named = load({ bind: "unix:/run/site/gunicorn.sock", healthCheckHost: "example.com" });
    assert.equal(named._WARM_PATH, "/");
    assert.equal(named._WARM_HOST, "example.com");
  });

  test("the wait leaves the gate its 2 s of stability and a second for the retire", () => {
    assert.equal(warmTimeoutSeconds(normalizeSpec({ startTimeout: 30 })), 27);
    assert.equal(warmTimeoutSeconds(normalizeSpec({ startTimeout: 4 })), 1);
  });
});

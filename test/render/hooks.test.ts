// The server hooks' module (components/host/gunicorn_upstart_hooks.py) has unit tests of its
// own, in Python (test/host/test_hooks.py): run here with Debian's Python and Gunicorn 20.1,
// the hosts'. The config that loads it is warmReload.test.ts's; its behaviour under load is
// test/integration/warmReload.test.ts's and bootFailure.test.ts's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { readProjectConfig } from "../../components/render/projectConfig";
import { readStackConfig } from "../../components/render/stackConfig";
import { renderGunicornConfig } from "../../components/render/gunicornConfig";

test("the server hooks' Python unit tests pass against Debian's Gunicorn", () => {
  const r = spawnSync(
    "/usr/bin/python3",
    ["-W", "ignore", join(__dirname, "../host/test_hooks.py"), "-v"],
    {
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const ran = /^Ran (\d+) tests?/m.exec(r.stderr);
  assert.ok(ran !== null && Number(ran[1]) >= 8, r.stderr);
  console.log(`test_hooks.py: ${ran[1]} tests ok`);
});

test("the default stack's Gunicorn config is settings, under 60 lines (the hooks are in their module)", () => {
  const stack = readStackConfig(readProjectConfig(join(__dirname, "../.."), undefined));
  const config = renderGunicornConfig(stack.spec, stack.appEnv);
  const lines = config.trimEnd().split("\n").length;
  assert.ok(lines < 60, `${lines} lines`);
  // No function of ours in it: the config names the module's hooks, which it runs.
  assert.doesNotMatch(config, /^\s*def /m);
  assert.match(config, /^on_reload = _warm_on_reload$/m);
  console.log(`the default stack's Gunicorn config: ${lines} lines`);
});

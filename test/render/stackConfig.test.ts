// The stack config reads every setting the table gives a stack type, in the CLI's text form,
// into the same value the component gets from its Args.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { SETTINGS, SETTING_NAMES, type Setting } from "../../components/render/settings";
import { normalizeSpec, type ServiceSettings } from "../../components/render/spec";
import { readStackConfig, stackConfigKeys } from "../../components/render/stackConfig";

/** A row's example as `pulumi config set` stores it: text, lists as JSON. */
function asConfigText(example: unknown, type?: string): string {
  if (typeof example !== "object" || example === null) return String(example);
  // A map key (processes) comes as the JSON of the map.
  if (type === "object") return JSON.stringify(example);
  if (Array.isArray(example)) return JSON.stringify(example);
  const o = example as Record<string, unknown>;
  // The two object settings: nofile as [SOFT, HARD], jobEnv as NAME=value strings.
  if ("soft" in o) return JSON.stringify([o.soft, o.hard]);
  return JSON.stringify(Object.entries(o).map(([k, v]) => `${k}=${String(v)}`));
}

function read(values: Record<string, string>) {
  const all: Record<string, string> = { host: "10.0.0.5", ...values };
  return readStackConfig({ get: (k) => all[k], keys: () => Object.keys(all) });
}

describe("the stack config", () => {
  for (const name of SETTING_NAMES) {
    const row = SETTINGS[name] as Setting<unknown>;
    if (row.config === undefined) continue;
    test(`${name} (${row.config}) set in the stack reaches the spec as the component's value`, () => {
      const stack = read({ [name]: asConfigText(row.example, row.config) });
      const expected = normalizeSpec({ [name]: row.example } as ServiceSettings);
      assert.deepEqual(
        (stack.spec as Record<string, unknown>)[name],
        (expected as Record<string, unknown>)[name],
      );
    });
  }

  test("every setting but the component-only ones is a stack key, beside the stack's own", () => {
    const keys = stackConfigKeys();
    for (const name of SETTING_NAMES) {
      const row = SETTINGS[name] as Setting<unknown>;
      assert.equal(keys[name]?.type, row.config, name);
    }
    assert.equal(keys.sshPrivateKey?.secret, true);
    assert.equal(keys.secretEnv?.secret, true);
  });

  test("a bad value in the stack fails naming the key, with the component's message", () => {
    assert.throws(() => read({ maxRequestsJitter: "-1" }), /invalid 'maxRequestsJitter'/);
    assert.throws(() => read({ nofile: "[8192, 4096]" }), /soft limit 8192 is above hard limit/);
    assert.throws(() => read({ jobEnv: '["TZ"]' }), /invalid 'jobEnv': expected "NAME=value"/);
    assert.throws(() => read({ respawn: "yes" }), /invalid 'respawn': expected true or false/);
    assert.throws(() => read({ extraArgs: "--reload" }), /invalid 'extraArgs': expected a list/);
  });
});

describe("an app already on the host", () => {
  test('appSource "" turns releases off, so projectDir is the app (the demo default cannot be removed)', () => {
    const stack = read({ appSource: "", projectDir: "/srv/mysite" });
    assert.equal(stack.appSource, undefined);
    assert.equal(stack.spec.appRoot, undefined);
    assert.equal(stack.spec.projectDir, "/srv/mysite");
    const releases = read({ appSource: "examples/hello-django" });
    assert.equal(releases.spec.projectDir, "/srv/django-project/current");
    assert.throws(
      () => read({ appSource: "examples/hello-django", projectDir: "/srv/mysite" }),
      /invalid 'projectDir': with app releases the project is/,
    );
  });
});

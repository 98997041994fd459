// The package for Python, Go and YAML programs: Pulumi's analyzer (what `pulumi package add`
// runs on a source-based plugin) infers a schema from plugin/ with every setting in it.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { SETTING_NAMES } from "../../components/settings";

const ROOT = resolve(__dirname, "../..");
const PLUGIN = join(ROOT, "plugin");

interface Property {
  type?: string;
  $ref?: string;
  items?: Property;
  optional?: boolean;
}

describe("the source-based plugin package (plugin/)", () => {
  test("is a Node.js plugin package named as the library", () => {
    const manifest = parse(readFileSync(join(PLUGIN, "PulumiPlugin.yaml"), "utf8")) as unknown;
    assert.deepEqual(manifest, { runtime: "nodejs" });
    const pkg = JSON.parse(readFileSync(join(PLUGIN, "package.json"), "utf8")) as { name: string };
    assert.equal(pkg.name, "gunicorn-upstart");
    // `pulumi package add` installs the plugin's own dependencies: the library's, exactly.
    const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    assert.deepEqual((pkg as unknown as typeof root).dependencies, root.dependencies);
  });

  test("Pulumi's analyzer infers GunicornService with every setting as an input, in schema types", () => {
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", "test/helpers/analyzePlugin.ts", PLUGIN],
      { cwd: ROOT, encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const schema = JSON.parse(r.stdout) as {
      components: Record<
        string,
        { inputs: Record<string, Property>; outputs: Record<string, Property> }
      >;
      typeDefinitions: Record<string, unknown>;
    };
    const service = schema.components.GunicornService;
    assert.ok(service, Object.keys(schema.components).join());
    for (const name of SETTING_NAMES) {
      assert.ok(service.inputs[name], `${name} is an input`);
      assert.equal(service.inputs[name]!.optional, true, `${name} is optional`);
    }
    // What TypeScript types as a union is a string in the schema; the checks take the words.
    assert.equal(service.inputs.workers!.type, "string");
    assert.equal(service.inputs.init!.type, "string");
    assert.equal(service.inputs.relaxSandbox!.items!.type, "string");
    assert.equal(service.inputs.nofile!.$ref, "#/types/gunicorn-upstart:index:NofileLimit");
    assert.ok(service.inputs.host!.$ref?.endsWith(":ConnectionArgs"));
    assert.equal(service.inputs.host!.optional, undefined, "host is required");
    assert.deepEqual(Object.keys(service.outputs).sort(), [
      "changeHash",
      "jobName",
      "publicAddress",
      "status",
      "url",
    ]);
  });
});

// The package for Python, Go and YAML programs: Pulumi's analyzer (what `pulumi package add`
// runs on a source-based plugin) infers a schema from plugin/ with every setting in it.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { SETTING_NAMES } from "../../components/render/settings";

const ROOT = resolve(__dirname, "../..");
const PLUGIN = join(ROOT, "plugin");

interface Property {
  type?: string;
  $ref?: string;
  items?: Property;
  optional?: boolean;
}

interface Schema {
  components: Record<
    string,
    { inputs: Record<string, Property>; outputs: Record<string, Property> }
  >;
  typeDefinitions: Record<string, unknown>;
}

let schema: Schema | undefined;
/** The schema Pulumi's analyzer infers from plugin/ (once). */
function analyzed(): Schema {
  if (schema !== undefined) return schema;
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "test/helpers/analyzePlugin.ts", PLUGIN],
    {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  schema = JSON.parse(r.stdout) as Schema;
  return schema;
}

describe("the source-based plugin package (plugin/)", () => {
  test("is a Node.js plugin package named as the library, with the library's versions and no AWS", () => {
    const manifest = parse(readFileSync(join(PLUGIN, "PulumiPlugin.yaml"), "utf8")) as unknown;
    // No `options:`: the CLI passes them to the language host as flags, which it refuses.
    assert.deepEqual(manifest, { runtime: "nodejs" });
    const pkg = JSON.parse(readFileSync(join(PLUGIN, "package.json"), "utf8")) as {
      name: string;
      main: string;
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    assert.equal(pkg.name, "gunicorn-upstart");
    // npm install (which `pulumi package add` and `pulumi install` run) compiles the plugin and
    // the library into bin/ against the plugin's own @pulumi/pulumi, and puts the host programs
    // beside it (bin/components/host, where the compiled renderer reads them); the plugin runs that.
    assert.equal(
      pkg.scripts.postinstall,
      "tsc -p tsconfig.json && rm -rf bin/components/host && cp -R ../components/host bin/components/host",
    );
    assert.equal(pkg.main, "bin/plugin/index.js");
    // The library's versions, one place: its dependencies without @pulumi/aws (every package
    // user would be asked for the AWS provider plugin, and the package makes no VM), and the
    // compiler the postinstall runs, at the library's dev versions.
    const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const { "@pulumi/aws": aws, ...libraryDeps } = root.dependencies;
    assert.ok(aws !== undefined);
    assert.deepEqual(pkg.dependencies, {
      ...libraryDeps,
      "@types/node": root.devDependencies["@types/node"],
      typescript: root.devDependencies.typescript,
    });
    // And the lock pins what the library's lock pins.
    const lock = (file: string) =>
      (JSON.parse(readFileSync(file, "utf8")) as { packages: Record<string, { version: string }> })
        .packages;
    const [ours, library] = [
      lock(join(PLUGIN, "package-lock.json")),
      lock(join(ROOT, "package-lock.json")),
    ];
    for (const name of Object.keys(pkg.dependencies)) {
      const key = `node_modules/${name}`;
      assert.equal(ours[key]?.version, library[key]?.version, key);
    }
    assert.equal(ours["node_modules/@pulumi/aws"], undefined);
  });

  test("the plugin's compile takes every module from the plugin's own node_modules", () => {
    const tsconfig = JSON.parse(readFileSync(join(PLUGIN, "tsconfig.json"), "utf8")) as {
      compilerOptions: { paths: Record<string, string[]> };
    };
    const pkg = JSON.parse(readFileSync(join(PLUGIN, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    // A second @pulumi/pulumi (the repository's, found from ../components) made Output<any>
    // of Output<string> (TS2322) and two SDKs at run time.
    for (const name of Object.keys(pkg.dependencies).filter(
      (n) => !/^(@types\/|typescript$)/.test(n),
    )) {
      assert.deepEqual(tsconfig.compilerOptions.paths[name], [`./node_modules/${name}`], name);
    }
  });

  test("Pulumi's analyzer infers GunicornService with every setting as an input, in schema types", () => {
    const service = analyzed().components.GunicornService;
    assert.ok(service, Object.keys(analyzed().components).join());
    for (const name of SETTING_NAMES) {
      assert.ok(service.inputs[name], `${name} is an input`);
      assert.equal(service.inputs[name]!.optional, true, `${name} is optional`);
    }
    // What TypeScript types as a union is a string in the schema; the checks take the words.
    assert.equal(service.inputs.workers!.type, "string");
    assert.equal(service.inputs.init!.type, "string");
    assert.equal(service.inputs.relaxSandbox!.items!.type, "string");
    assert.equal(service.inputs.nofile!.$ref, "#/types/gunicorn-upstart:index:NofileLimit");
    // Processes and scheduled jobs: maps of objects (the schema has no string-or-object).
    for (const [name, type] of [
      ["processes", "ProcessOptions"],
      ["schedules", "ScheduleOptions"],
    ] as const) {
      const input = service.inputs[name] as Property & { additionalProperties?: Property };
      assert.equal(input.type, "object", name);
      assert.equal(input.additionalProperties?.$ref, `#/types/gunicorn-upstart:index:${type}`);
    }
    assert.ok(service.inputs.host!.$ref?.endsWith(":ConnectionArgs"));
    assert.equal(service.inputs.host!.optional, undefined, "host is required");
    assert.equal(service.inputs.vm, undefined, "no VM: existing hosts only");
    assert.deepEqual(Object.keys(service.outputs).sort(), [
      "changeHash",
      "jobName",
      "publicAddress",
      "status",
      "url",
    ]);
  });

  // Offline, where no language host is: a misspelt property would only fail at `up`.
  test("the YAML and Python examples set only the package's inputs, and the YAML's outputs exist", () => {
    const service = analyzed().components.GunicornService!;
    const inputs = new Set(Object.keys(service.inputs));
    const yaml = parse(readFileSync(join(ROOT, "examples/yaml/Pulumi.yaml"), "utf8")) as {
      resources: Record<string, { type: string; properties: Record<string, unknown> }>;
      outputs: Record<string, string>;
    };
    const hello = yaml.resources.hello!;
    assert.equal(hello.type, "gunicorn-upstart:GunicornService");
    assert.deepEqual(
      Object.keys(hello.properties).filter((k) => !inputs.has(k)),
      [],
    );
    for (const expr of Object.values(yaml.outputs)) {
      const output = /^\$\{hello\.(\w+)\}$/.exec(expr)?.[1];
      assert.ok(output !== undefined && service.outputs[output], expr);
    }
    const python = readFileSync(join(ROOT, "examples/python/__main__.py"), "utf8");
    const call = python.slice(python.indexOf("gunicorn.GunicornService("));
    const kwargs = [...call.slice(0, call.indexOf("\n)\n")).matchAll(/^ {4}(\w+)=/gm)].map(
      (m) => m[1]!,
    );
    assert.ok(kwargs.length > 10, kwargs.join());
    const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    assert.deepEqual(
      kwargs.filter((k) => !inputs.has(camel(k))),
      [],
    );
    for (const output of python.matchAll(/service\.(\w+)/g))
      assert.ok(service.outputs[output[1]!], output[0]);
    // It parses as Python (without writing __pycache__ into the example).
    const compiled = spawnSync(
      "python3",
      [
        "-c",
        "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])",
        join(ROOT, "examples/python/__main__.py"),
      ],
      { encoding: "utf8" },
    );
    assert.equal(compiled.status, 0, compiled.stderr);
  });
});

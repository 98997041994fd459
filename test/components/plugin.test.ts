// The package for Python, Go and YAML programs (plugin/): its GunicornService takes the settings
// in a package schema's types and builds exactly the library's service from them.
import { test, describe, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { GunicornService as PluginService } from "../../plugin";
import { GunicornService } from "../../components";
import { recorded, recorder, reset, settle, valueOf } from "../helpers/pulumiMocks";

const host = { host: "10.0.0.5", user: "deploy", privateKey: "key" };

async function build(make: () => { status: import("@pulumi/pulumi").Output<string> }) {
  reset();
  const svc = make();
  await valueOf(svc.status);
  await settle();
  return recorded.map((r) => ({ name: r.name, type: r.type, inputs: JSON.stringify(r.inputs) }));
}

describe("the package's GunicornService (plugin/)", () => {
  beforeEach(reset);

  test("schema-typed settings (words and numbers as strings) give the library's service, resource for resource", async () => {
    const settings = { init: "systemd", logLevel: "warning", workers: "auto", job: "blog" };
    const plugin = await build(
      () => new PluginService("app", { host, ...settings }, { transformations: [recorder] }),
    );
    const library = await build(
      () =>
        new GunicornService(
          "app",
          { host, init: "systemd", logLevel: "warning", workers: "auto", job: "blog" },
          { transformations: [recorder] },
        ),
    );
    // The package's component wraps the library's: the same children, with the same inputs.
    const byName = (list: typeof plugin) =>
      list
        .filter((r) => r.type !== "gunicorn-upstart:index:GunicornService")
        .map((r) => `${r.name} ${r.inputs}`)
        .sort();
    assert.deepEqual(byName(plugin), byName(library));
    assert.ok(byName(library).length > 5);
    const config = plugin.find((r) => r.name === "app-config-write")!;
    assert.match(config.inputs, /workers = multiprocessing\.cpu_count\(\) \* 2 \+ 1/);
    assert.match(config.inputs, /loglevel = \\"warning\\"/);
  });

  test("a bad word in a schema string fails at preview, naming the field, as in TypeScript", () => {
    assert.throws(
      () => new PluginService("bad", { host, logLevel: "loud" }),
      /invalid 'logLevel': expected one of debug, info, warning, error, critical, got "loud"/,
    );
  });

  test("prepareHost with packages and the requirements become host preparation and a virtualenv", async () => {
    const res = await build(
      () =>
        new PluginService(
          "app",
          {
            host,
            prepareHost: true,
            hostPackages: ["python3", "python3-venv"],
            pythonRequirements: "Django==5.2\n",
          },
          { transformations: [recorder] },
        ),
    );
    const names = res.map((r) => r.name);
    assert.ok(
      names.includes("app-host-prepare") && names.includes("app-python-install"),
      names.join(),
    );
    assert.match(res.find((r) => r.name === "app-python-install")!.inputs, /Django==5\.2/);
  });

  test("a field that only means something beside another is refused without it, naming both", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ hostPackages: ["python3"] }, /'hostPackages' takes effect only with 'prepareHost': true/],
      [
        { prepareHost: false, hostPackages: ["python3"] },
        /'hostPackages' takes effect only with 'prepareHost': true/,
      ],
      [
        { systemSitePackages: true },
        /'systemSitePackages' takes effect only with 'pythonRequirements'/,
      ],
      [{ python: "/usr/bin/python3" }, /'python' takes effect only with 'pythonRequirements'/],
    ];
    for (const [extra, message] of cases) {
      assert.throws(() => new PluginService("app", { host, ...extra }), message);
    }
  });
});

// The library as another stack gets it: `npm pack` (which builds dist/ first), the tarball's
// contents, an install into a fresh project, a strict type-check of a program that composes two
// services (examples/two-services, importing "gunicorn-upstart"), and that program run from the
// installed JavaScript. It runs under Pulumi's mocks, not the real engine: the engine cannot
// run a command resource on this machine (the command provider is refused by the Go module
// proxy; see scripts/toolchain.sh), so what this shows is that the package installs, types and
// loads as plain JavaScript, which a raw .ts in node_modules did not.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { consumerProject, packLibrary, run } from "../helpers/consumer";

const ROOT = resolve(__dirname, "../..");

describe("the installable package", { timeout: 600_000 }, () => {
  let dir: string;
  let tarball: string;
  let files: string[];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "package-"));
    ({ tarball, files } = packLibrary(dir));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("the tarball holds the built library and its docs: no test, bench, CI, stack file or TypeScript source", () => {
    const allowed =
      /^(package\.json|README\.md|docs\/[^/]+\.md|dist\/.+\.(js|d\.ts)|dist\/host\/((lib\/)?[a-z0-9_-]+\.(sh|py)|\.shellcheckrc))$/;
    assert.deepEqual(
      files.filter((f) => !allowed.test(f)),
      [],
    );
    for (const f of [
      "dist/index.js",
      "dist/index.d.ts",
      "dist/host/build-rootfs.sh",
      "docs/configuration.md",
    ]) {
      assert.ok(files.includes(f), f);
    }
    console.log(`npm pack: ${files.length} files`);
  });

  test("installed into a fresh project, a program composing two services type-checks strictly and runs from the JavaScript", () => {
    const project = consumerProject(join(dir, "consumer"), tarball, ["@types/node@20"]);
    // Two apps to pack: the demo, twice.
    for (const app of ["shop", "blog"]) {
      cpSync(join(ROOT, "examples/hello-django"), join(project, "apps", app), { recursive: true });
    }
    run(join(ROOT, "node_modules/.bin/tsc"), ["-p", "."], project);
    // Pulumi's mocks stand in for the engine; the types the program registers show the
    // installed library ran (components, and their files and lifecycles).
    writeFileSync(
      join(project, "run.js"),
      [
        'process.env.PULUMI_CONFIG = JSON.stringify({ "consumer:sshPrivateKey": "KEY", "consumer:shopSource": "apps/shop", "consumer:blogSource": "apps/blog" });',
        'const pulumi = require("@pulumi/pulumi");',
        "const seen = [];",
        "pulumi.runtime.setMocks({",
        "  newResource: (a) => { seen.push(a.type); return { id: `${a.name}-id`, state: { ...a.inputs, stdout: '', stderr: '' } }; },",
        "  call: (a) => a.inputs,",
        '}, "consumer", "dev", false);',
        'require("./out/index.js");',
        "setTimeout(() => console.log(JSON.stringify(seen)), 2000);",
      ].join("\n"),
    );
    const seen = JSON.parse(run("node", ["run.js"], project).trim()) as string[];
    const count = (t: string) => seen.filter((s) => s === t).length;
    assert.equal(count("gunicorn-upstart:index:GunicornService"), 2);
    assert.equal(count("gunicorn-upstart:index:ServiceLifecycle"), 2);
    assert.ok(count("command:remote:Command") >= 8, JSON.stringify(seen));
    const resolved = run("node", ["-p", 'require.resolve("gunicorn-upstart")'], project).trim();
    assert.match(resolved, /node_modules\/gunicorn-upstart\/dist\/index\.js$/);
  });
});

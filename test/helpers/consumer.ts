// A fresh project that composes the packed library as another team's stack would: the
// tarball (and `packages`) installed with npm, the two-services example's files importing
// "gunicorn-upstart", and a strict tsconfig. Used under mocks (test/package/install.test.ts)
// and with real `pulumi up` (test/engine/composedStack.test.ts).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");

export function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 600_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * `npm pack` of the library into `dest`: its path and the files in it. Under a lock: the pack
 * rebuilds the repository's dist/ (prepack), which two test files packing at once would race on.
 */
export function packLibrary(dest: string): { tarball: string; files: string[] } {
  const lock = join(tmpdir(), "gunicorn-upstart-pack.lock");
  const out = run("flock", [lock, "npm", "pack", "--pack-destination", dest, "--json"], ROOT);
  const [packed] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  return { tarball: join(dest, packed!.filename), files: packed!.files.map((f) => f.path) };
}

/** Makes `project` with `tarball` and `packages` installed; returns the project. */
export function consumerProject(project: string, tarball: string, packages: string[]): string {
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, "package.json"), '{ "name": "consumer", "private": true }\n');
  run(
    "npm",
    ["install", tarball, ...packages, "--prefer-offline", "--no-audit", "--no-fund"],
    project,
  );
  // The example's two files, as a consumer would have them: importing the package.
  const library = readFileSync(join(ROOT, "examples/two-services/twoServices.ts"), "utf8");
  assert.match(library, /from "\.\.\/\.\.\/components"/);
  writeFileSync(
    join(project, "twoServices.ts"),
    library.replace('from "../../components"', 'from "gunicorn-upstart"'),
  );
  cpSync(join(ROOT, "examples/two-services/index.ts"), join(project, "index.ts"));
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: "ES2022",
        module: "commonjs",
        moduleResolution: "node",
        esModuleInterop: true,
        types: ["node"],
        outDir: "out",
      },
      files: ["index.ts", "twoServices.ts"],
    }),
  );
  return project;
}

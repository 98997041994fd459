// Writes what is generated from the settings table: the component's settings Args, Pulumi.yaml
// and the configuration reference in docs/configuration.md. `--check` writes nothing and fails when a file is
// stale (test/render/generated.test.ts does the same).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { generatedFiles } from "./settingsDocs";

async function main(): Promise<void> {
  const root = resolve(__dirname, "..");
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const [path, content] of await generatedFiles(root)) {
    const full = join(root, path);
    if (existsSync(full) && readFileSync(full, "utf8") === content) continue;
    stale++;
    if (check) console.error(`${path} is stale: run npm run generate`);
    else writeFileSync(full, content);
  }
  if (check && stale > 0) process.exit(1);
  if (!check) console.log(`${stale} file(s) written`);
}
void main();

// Runs Pulumi's own component analyzer (what `pulumi package add` runs for a source-based
// plugin) over a plugin directory and prints the schema it infers, as JSON.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Analyzer } from "@pulumi/pulumi/provider/experimental/analyzer";

const dir = process.argv[2] as string;
const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name: string };
const result = new Analyzer(dir, pkg.name, pkg, new Set(["GunicornService"])).analyze();
process.stdout.write(JSON.stringify(result));

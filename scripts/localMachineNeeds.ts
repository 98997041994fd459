// `node --import tsx scripts/localMachineNeeds.ts --stack NAME [--project DIR]`: what the stack's
// local machine needs on this computer, one `command debian-package` pair a line
// (LOCAL_MACHINE_NEEDS), when the stack deploys to the local machine (its target, from
// Pulumi.yaml and Pulumi.<stack>.yaml, read as the offline render reads them); nothing for a
// stack on an existing host or a new EC2 instance, and nothing when the config is bad (the
// preview then says what is wrong, naming the key). For scripts/local-machine-deps.sh. With
// `--all`, every need whatever the stack: for scripts/test-deps.sh (the tests boot machines).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readProjectConfig } from "../components/render/projectConfig";
import { LOCAL_MACHINE_NEEDS } from "../components/render/localMachine";
import { SpecError } from "../components/render/spec";
import { targetKind } from "../components/render/stackConfig";

function main(): number {
  const { values } = parseArgs({
    options: {
      stack: { type: "string" },
      project: { type: "string", default: "." },
      all: { type: "boolean", default: false },
    },
  });
  if (values.all) {
    for (const need of LOCAL_MACHINE_NEEDS) {
      process.stdout.write(`${need.command} ${need.debianPackage}\n`);
    }
    return 0;
  }
  const dir = resolve(values.project);
  // A stack not created yet has no file: the project's defaults are its config.
  const stack =
    values.stack !== undefined && existsSync(join(dir, `Pulumi.${values.stack}.yaml`))
      ? values.stack
      : undefined;
  const config = readProjectConfig(dir, stack);
  // An encrypted value is not read, but it is set.
  const get = (key: string) =>
    config.get(key) ?? (config.secretKeys.includes(key) ? "(secret)" : undefined);
  try {
    if (targetKind(get("target"), get("host"), get("publicKey")) !== "local") return 0;
  } catch (e) {
    if (e instanceof SpecError) return 0;
    throw e;
  }
  for (const need of LOCAL_MACHINE_NEEDS) {
    process.stdout.write(`${need.command} ${need.debianPackage}\n`);
  }
  return 0;
}

process.exitCode = main();

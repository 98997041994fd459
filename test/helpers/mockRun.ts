// Runs a Pulumi program under the mock runtime in its own process, the way `pulumi preview`
// runs it: `node --import tsx test/helpers/mockRun.ts PROGRAM.ts`. Config comes from the
// PULUMI_CONFIG environment variable, as the CLI passes it. On success it prints the recorded
// resources as JSON; on an error it prints `error: <message>` and exits 1.
import { recorded, settle } from "./pulumiMocks";
import { resolve } from "node:path";

const program = process.argv[2];
if (program === undefined) throw new Error("usage: mockRun.ts PROGRAM.ts");

let failed = false;
const fail = (e: unknown) => {
  if (failed) return;
  failed = true;
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
};
process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);

void (async () => {
  try {
    const outputs = (await import(resolve(program))) as Record<string, unknown>;
    await settle();
    const values: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(outputs)) {
      const v = value as { promise?: () => Promise<unknown> } | undefined;
      if (v && typeof v.promise === "function") values[key] = await v.promise();
    }
    await settle();
    process.stdout.write(JSON.stringify({ resources: recorded, outputs: values }));
  } catch (e) {
    fail(e);
  }
})();

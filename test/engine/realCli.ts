// The real Pulumi CLI as a user runs it, for the tests that run whole programs: the
// toolchain's PATH and PULUMI_HOME (what `npm run pulumi` uses), whether the command provider
// is there, and the CLI run in a directory with a file backend of the test's own.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");

/**
 * The toolchain's PATH (before the caller's), its cache directory and PULUMI_HOME, as `npm run
 * pulumi` has them.
 */
export const TOOLCHAIN = (() => {
  const r = spawnSync("bash", [join(ROOT, "scripts/toolchain.sh")], {
    encoding: "utf8",
    env: { ...process.env, TOOLCHAIN_QUIET: "1" },
    timeout: 1_800_000,
  });
  const [cache, home] = spawnSync(
    "bash",
    ["-c", '. scripts/cache-dir.sh && printf "%s\\n%s" "$cache" "$PULUMI_HOME"'],
    { cwd: ROOT, encoding: "utf8" },
  ).stdout.split("\n") as [string, string];
  const line = r.stdout.trim().split("\n").pop() ?? "";
  return { path: `${line}${delimiter}${process.env.PATH}`, cache, home, status: r.status };
})();

/** The first `name` on the toolchain's PATH, links resolved. */
export function which(name: string): string | undefined {
  for (const dir of TOOLCHAIN.path.split(delimiter)) {
    if (dir !== "" && existsSync(join(dir, name))) return realpathSync(join(dir, name));
  }
  return undefined;
}

/** Why `pulumi up` of a command resource cannot run here, or undefined when it can. */
export function commandProviderMissing(): string | undefined {
  const plugins = spawnSync("pulumi", ["plugin", "ls"], {
    encoding: "utf8",
    env: { ...process.env, PATH: TOOLCHAIN.path, PULUMI_HOME: TOOLCHAIN.home },
  });
  return /^command\s+resource\s+1\.2\.1\s/m.test(plugins.stdout ?? "")
    ? undefined
    : `the command provider 1.2.1 (not in PULUMI_HOME=${TOOLCHAIN.home})`;
}

/** The CLI in directories under `root`, with its state in `root`/state (which must exist). */
export function cliIn(root: string) {
  const run = (dir: string, args: string[], input?: string) => {
    const r = spawnSync("pulumi", args, {
      cwd: join(root, dir),
      input,
      encoding: "utf8",
      timeout: 900_000,
      maxBuffer: 64 << 20,
      env: {
        ...process.env,
        PATH: TOOLCHAIN.path,
        PULUMI_HOME: TOOLCHAIN.home,
        PULUMI_BACKEND_URL: `file://${join(root, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "real-cli-test",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
      },
    });
    return { status: r.status, stdout: r.stdout, all: `${r.stdout}\n${r.stderr}` };
  };
  const ok = (dir: string, args: string[], input?: string): string => {
    const r = run(dir, args, input);
    assert.equal(r.status, 0, `pulumi ${args.join(" ")} in ${dir}:\n${r.all.slice(-4000)}`);
    return r.all;
  };
  return { run, ok };
}

/** No line of `privateKey`'s body is in `state` (a `stack export`). */
export function assertKeyNotIn(state: string, privateKey: string): void {
  for (const line of privateKey.split("\n").filter((l) => l.length > 20)) {
    assert.ok(!state.includes(line), "a line of the private key is in the state");
  }
}

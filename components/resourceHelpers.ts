/**
 * What every component here does the same way: turn a pure validation error into the
 * ResourceError Pulumi reports at preview, hand its own `dependsOn` down to its command, and
 * tell plain input (checked at once) from input known only later.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { sha256 } from "./render/lifecycleScripts";
import {
  asHelperCommand,
  drainingStdin,
  loaderCommand,
  loaderInput,
  renderStepProgram,
} from "./render/remoteScripts";
import type { HelperRef } from "./render/sudoHelper";
import { SpecError } from "./render/spec";

/** Runs `check`; a SpecError becomes `ResourceError("<name>: invalid '<field>': ...")`. */
export function validated<T>(name: string, resource: pulumi.Resource, check: () => T): T {
  try {
    return check();
  } catch (e) {
    throw e instanceof SpecError ? new pulumi.ResourceError(`${name}: ${e.message}`, resource) : e;
  }
}

/** Options for a component's child: parented to it, waiting for what the component waits for. */
export function childOptions(
  parent: pulumi.Resource,
  opts: pulumi.ComponentResourceOptions | undefined,
): pulumi.CustomResourceOptions {
  return { parent, ...(opts?.dependsOn !== undefined ? { dependsOn: opts.dependsOn } : {}) };
}

/** True when a value holds no Output or Promise anywhere, so it can be checked right away. */
export function isPlain(value: unknown): boolean {
  if (pulumi.Output.isInstance(value) || value instanceof Promise) return false;
  if (Array.isArray(value)) return value.every(isPlain);
  if (typeof value === "object" && value !== null) return Object.values(value).every(isPlain);
  return true;
}

type Connection = command.types.input.remote.ConnectionArgs;

/** A remote step: a `remote.Command`'s arguments, and the program its commands load. */
export interface RemoteStepArgs extends command.remote.CommandArgs {
  /**
   * The step's program (`renderStepProgram`): its commands are loader stubs (`loaderCommand`)
   * that read it from the head of standard input, before `stdin`. Unset when the commands are
   * the privileged helper's. @default unset
   */
  program?: pulumi.Input<string | undefined>;
}

/**
 * A `remote.Command` as every component here needs it, for what the command provider does
 * beyond the SDK's documentation:
 * - the command strings are short (a loader stub or a helper call): the provider quotes them
 *   into every error; the program comes on standard input, ahead of the content, so a `stdin`
 *   that is secret keeps the whole input secret;
 * - `logging: "stderr"` (unless given): progress lines stream, results (stdout: a status, a
 *   certificate) do not;
 * - `addPreviousOutputInEnv: false`: otherwise the provider sends the previous stdout and
 *   stderr as PULUMI_COMMAND_STDOUT/STDERR environment variables on every update and delete,
 *   which a stock sshd (no `AcceptEnv`) refuses, with a warning each time; nothing here reads
 *   them, and they would carry a secret config's content;
 * - `delete` reads its standard input: the provider pipes the stored `stdin` into `delete`
 *   too (see {@link drainingStdin}; a loaded program's step runner reads it itself).
 */
export function remoteCommand(
  name: string,
  args: RemoteStepArgs,
  opts: pulumi.CustomResourceOptions,
): command.remote.Command {
  const { program: programInput, ...commandArgs } = args;
  const program = pulumi.output(programInput);
  return new command.remote.Command(
    name,
    {
      logging: "stderr",
      ...commandArgs,
      addPreviousOutputInEnv: false,
      stdin: pulumi
        .all([program, args.stdin ?? ""])
        .apply(([p, content]) => (p === undefined ? content : loaderInput(p, content))),
      ...(args.delete !== undefined
        ? {
            delete: pulumi
              .all([program, args.delete])
              .apply(([p, d]) => (p === undefined || d === "true" ? drainingStdin(d) : d)),
          }
        : {}),
    },
    opts,
  );
}

/**
 * A short token of a command's stdout, which ends with a random run id: it changes exactly
 * when the command ran in this `up`. Not secret (a hash of a run's log), though the stdout
 * of a command with a secret connection is.
 */
export function runToken(cmd: command.remote.Command): pulumi.Output<string> {
  return pulumi.unsecret(cmd.stdout.apply((out) => sha256(out).slice(0, 16)));
}

/**
 * Where a connection goes, `host:port`: not secret, though the connection (with its key) is.
 * In a command's `triggers`, a new address replaces the command instead of updating it: the
 * provider runs an update only on the new host, which would leave the old one serving.
 */
export function hostAddress(connection: pulumi.Input<Connection>): pulumi.Output<string> {
  return pulumi.unsecret(
    pulumi.output(connection).apply((c) => `${String(c.host)}:${String(c.port ?? 22)}`),
  );
}

/** A lifecycle's two steps: what runs on create and update, and on delete. */
export interface LifecycleSteps {
  apply: { label: string; script: string };
  stop: { label: string; script: string };
}

/**
 * The commands and program of a lifecycle (the web's, a process's, a scheduled job's): with the
 * helper, its operations `applyOp` and `stopOp` (the scripts are in the helper); without, the
 * loader's `apply` and `stop`, with the step program on standard input.
 */
export function lifecycleCommands(
  helper: pulumi.Output<HelperRef | undefined>,
  ops: { apply: string; stop: string },
  steps: pulumi.Output<LifecycleSteps>,
): {
  apply: pulumi.Output<string>;
  stop: pulumi.Output<string>;
  program: pulumi.Output<string | undefined>;
} {
  return {
    apply: helper.apply((h) =>
      h ? asHelperCommand(h.path, h.shape, ops.apply) : loaderCommand("apply"),
    ),
    stop: helper.apply((h) =>
      h ? asHelperCommand(h.path, h.shape, ops.stop) : loaderCommand("stop"),
    ),
    program: pulumi
      .all([helper, steps])
      .apply(([h, st]) => (h ? undefined : renderStepProgram({ apply: st.apply, stop: st.stop }))),
  };
}

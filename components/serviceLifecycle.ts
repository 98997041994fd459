import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import {
  applyLabel,
  renderApplyScript,
  renderManifest,
  renderStopScript,
  sha256,
  stopLabel,
  type ServiceFiles,
} from "./render/lifecycleScripts";
import type { HelperRef } from "./render/sudoHelper";
import type { ServiceSpec } from "./render/spec";
import { hostAddress, lifecycleCommands, remoteCommand } from "./resourceHelpers";

/** Arguments of {@link ServiceLifecycle}. */
export interface ServiceLifecycleArgs {
  /** SSH connection to the host. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** The validated service spec (job name, bind address, log file, timeouts). */
  spec: pulumi.Input<ServiceSpec>;
  /** Contents of the job, launcher and Gunicorn config, as written; their hashes drive the action. */
  files: pulumi.Input<ServiceFiles>;
  /** The resources that write those files (and the release); the service starts after them and
   * stops before them. */
  fileResources: pulumi.Input<pulumi.Resource>[];
  /** More resources the service starts (and changes) after, e.g. a fleet's drain step. @default [] */
  after?: pulumi.Input<pulumi.Resource>[];
  /**
   * Tokens of the steps that wrote what the service runs (`RemoteFile.written`,
   * `AppRelease.written`, `PythonEnv.written`): when any of them ran in an `up`, the lifecycle
   * runs its apply too, even if its own inputs are the ones it last succeeded with. @default []
   */
  writes?: pulumi.Input<string>[];
  /** Run `apply` and `stop` through the job's privileged helper (`sudo: "helper"`). @default unset */
  helper?: pulumi.Input<HelperRef | undefined>;
}

/**
 * The lifecycle of one Upstart job or systemd unit, as one `remote.Command`:
 * - create: start the job (restart it if something already runs under that name) and wait
 *   until Gunicorn serves;
 * - update: the least disruptive action for what changed (nothing, a reload = HUP for
 *   Gunicorn settings, stop and start for the job or launcher), decided on the host from the
 *   content hashes on stdin and the hashes last applied;
 * - delete: stop the job. Because this resource depends on the file resources, Pulumi runs it
 *   before the files are removed.
 *
 * Its `triggers` are the job name and the host's address, with `deleteBeforeReplace`: a
 * renamed job, or a service moved to another host, stops the old one before the new one
 * starts; any other change is an in-place update (a trigger would replace it, and a
 * replacement runs the old `delete` (stop) after the new `create` (start)).
 *
 * Its update command ends with a comment holding a token of the steps that wrote its files
 * (`writes`). The engine keeps a failed update's previous inputs, so after a change that failed
 * its health gate, reverting it would send exactly the inputs the lifecycle last succeeded
 * with: no update, and the service left as the failed change left it. The rewritten files
 * change their tokens, so the lifecycle runs, and the host's record of the attempted change
 * makes it act.
 *
 * Its commands are short stubs (`sudo: "helper"`: the helper's `apply` and `stop`); the scripts
 * come on standard input ahead of the manifest (see `loaderCommand`), so a failure's message is
 * the reason and the tail of the step's log, not the script.
 */
export class ServiceLifecycle extends pulumi.ComponentResource {
  /** What the last create or update did and the master PID: `<job>: reload (master pid 1234)`. */
  public readonly status: pulumi.Output<string>;

  constructor(name: string, args: ServiceLifecycleArgs, opts?: pulumi.ComponentResourceOptions) {
    // Named UpstartService before it drove systemd too: the alias keeps existing stacks'
    // resources (and their children) as they are, instead of replacing them.
    super(
      "gunicorn-upstart:index:ServiceLifecycle",
      name,
      {},
      {
        ...opts,
        aliases: [...(opts?.aliases ?? []), { type: "gunicorn-upstart:index:UpstartService" }],
      },
    );
    const spec = pulumi.output(args.spec);
    const helper = pulumi.output(args.helper);
    const { apply, stop, program } = lifecycleCommands(
      helper,
      { apply: "apply", stop: "stop" },
      spec.apply((s) => ({
        apply: { label: applyLabel(s), script: renderApplyScript(s) },
        stop: { label: stopLabel(s), script: renderStopScript(s) },
      })),
    );
    // A comment for the shell: read by nothing, it changes when any write ran (one token of
    // them all, so the command stays short).
    const update = pulumi
      .all([apply, pulumi.all(args.writes ?? [])])
      .apply(([command, writes]) =>
        writes.length === 0
          ? command
          : `${command} # after ${sha256(writes.join(" ")).slice(0, 16)}`,
      );
    const lifecycle = remoteCommand(
      `${name}-lifecycle`,
      {
        connection: args.connection,
        create: apply,
        update,
        delete: stop,
        program,
        stdin: pulumi.output(args.files).apply(renderManifest),
        triggers: [spec.apply((s) => s.job), hostAddress(args.connection)],
      },
      {
        parent: this,
        dependsOn: [...args.fileResources, ...(args.after ?? [])],
        deleteBeforeReplace: true,
      },
    );
    // Not secret (a PID and an action), though the outputs of a command whose connection is.
    this.status = pulumi.unsecret(
      lifecycle.stdout.apply((out) => out.trim().split("\n").pop() ?? ""),
    );
    this.registerOutputs({ status: this.status });
  }
}

/** @deprecated Renamed {@link ServiceLifecycle}: it drives an Upstart job or a systemd unit. */
export const UpstartService = ServiceLifecycle;
/** @deprecated Renamed {@link ServiceLifecycleArgs}. */
export type UpstartServiceArgs = ServiceLifecycleArgs;

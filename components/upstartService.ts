import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import {
  renderApplyScript,
  renderManifest,
  renderStopScript,
  type ServiceFiles,
} from "./render/lifecycleScripts";
import { asHelperCommand, asRemoteCommand } from "./render/remoteScripts";
import type { HelperRef } from "./render/sudoHelper";
import type { ServiceSpec } from "./spec";

/** Arguments of {@link UpstartService}. */
export interface UpstartServiceArgs {
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
  /** Run `apply` and `stop` through the job's privileged helper (`sudo: "helper"`). @default unset */
  helper?: pulumi.Input<HelperRef | undefined>;
}

/**
 * The lifecycle of one Upstart job, as one `remote.Command`:
 * - create: start the job (restart it if something already runs under that name) and wait
 *   until Gunicorn serves;
 * - update: the least disruptive action for what changed (nothing, `initctl reload` = HUP for
 *   Gunicorn settings, stop and start for the job or launcher), decided on the host from the
 *   content hashes on stdin and the hashes last applied;
 * - delete: stop the job. Because this resource depends on the file resources, Pulumi runs it
 *   before the files are removed.
 *
 * It has no `triggers`: a trigger would replace the resource, and a replacement runs the old
 * `delete` (stop) after the new `create` (start). Only the job name and the connection force
 * a replacement, and then `deleteBeforeReplace` stops the old job before the new one starts.
 */
export class UpstartService extends pulumi.ComponentResource {
  /** What the last create or update did and the master PID: `<job>: reload (master pid 1234)`. */
  public readonly status: pulumi.Output<string>;

  constructor(name: string, args: UpstartServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:UpstartService", name, {}, opts);
    const spec = pulumi.output(args.spec);
    const helper = pulumi.output(args.helper);
    const apply = pulumi
      .all([spec, helper])
      .apply(([s, h]) =>
        h ? asHelperCommand(h.path, h.shape, "apply") : asRemoteCommand(renderApplyScript(s)),
      );
    const stop = pulumi
      .all([spec, helper])
      .apply(([s, h]) =>
        h ? asHelperCommand(h.path, h.shape, "stop") : asRemoteCommand(renderStopScript(s)),
      );
    const lifecycle = new command.remote.Command(
      `${name}-lifecycle`,
      {
        connection: args.connection,
        create: apply,
        update: apply,
        delete: stop,
        stdin: pulumi.output(args.files).apply(renderManifest),
        // Replaced only when the job itself is renamed, see deleteBeforeReplace below.
        triggers: [spec.apply((s) => s.job)],
        logging: "stdoutAndStderr",
      },
      {
        parent: this,
        dependsOn: [...args.fileResources, ...(args.after ?? [])],
        deleteBeforeReplace: true,
      },
    );
    this.status = lifecycle.stdout.apply((out) => out.trim().split("\n").pop() ?? "");
    this.registerOutputs({ status: this.status });
  }
}

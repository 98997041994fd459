import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { renderHostSetupScript, type HostSetupSpec } from "./render/hostScripts";
import { loaderCommand, renderStepProgram } from "./render/remoteScripts";
import { childOptions, remoteCommand } from "./resourceHelpers";

/** Arguments of {@link HostSetup}. */
export interface HostSetupArgs {
  /** SSH connection to the host. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** What to prepare: user, group, home, packages, directories, cloud-init wait. */
  spec: pulumi.Input<HostSetupSpec>;
}

/**
 * Prepares a bare host for the service, idempotently: waits for cloud-init, installs the OS
 * packages that are missing, creates the service group and user (system account, no login
 * shell) and the app's directories when missing. Destroy keeps all of it (packages, users and
 * directories may hold or serve more than this service, and directories may hold data).
 */
export class HostSetup extends pulumi.ComponentResource {
  /** What the setup did on its last run (created user, installed packages, ...). */
  public readonly log: pulumi.Output<string>;

  constructor(name: string, args: HostSetupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:HostSetup", name, {}, opts);
    const program = pulumi.output(args.spec).apply((s) =>
      renderStepProgram({
        prepare: { label: "preparing the host", script: renderHostSetupScript(s) },
      }),
    );
    const setup = remoteCommand(
      `${name}-prepare`,
      {
        connection: args.connection,
        create: loaderCommand("prepare"),
        update: loaderCommand("prepare"),
        delete: "true", // kept on destroy, see above
        program,
      },
      childOptions(this, opts),
    );
    this.log = pulumi.unsecret(setup.stdout);
    this.registerOutputs({ log: this.log });
  }
}

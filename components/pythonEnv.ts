import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { renderPythonEnvScript, type PythonEnvSpec } from "./render/hostScripts";
import { loaderCommand, renderStepProgram } from "./render/remoteScripts";
import { childOptions, remoteCommand, runToken } from "./resourceHelpers";

/** Arguments of {@link PythonEnv}. */
export interface PythonEnvArgs {
  /** SSH connection to the host. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** Virtualenv path, interpreter, options. */
  spec: pulumi.Input<PythonEnvSpec>;
  /** The app's requirements.txt content. @default "" (Gunicorn only) */
  requirements?: pulumi.Input<string>;
}

/**
 * The app's virtualenv, with the requirements and Gunicorn installed. It runs again only when
 * the requirements, the interpreter or the pip options change (all inputs of one command, so
 * `pulumi preview` shows which); pip's last lines are the error when it fails. Kept on destroy.
 */
export class PythonEnv extends pulumi.ComponentResource {
  /** The virtualenv's path. */
  public readonly virtualenv: pulumi.Output<string>;
  /** Changes exactly when the virtualenv build ran in this `up`. */
  public readonly written: pulumi.Output<string>;

  constructor(name: string, args: PythonEnvArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:PythonEnv", name, {}, opts);
    const spec = pulumi.output(args.spec);
    const program = spec.apply((s) =>
      renderStepProgram({
        install: { label: `the virtualenv ${s.virtualenv}`, script: renderPythonEnvScript(s) },
      }),
    );
    const env = remoteCommand(
      `${name}-install`,
      {
        connection: args.connection,
        create: loaderCommand("install"),
        update: loaderCommand("install"),
        delete: "true", // the virtualenv is kept on destroy
        program,
        stdin: args.requirements ?? "",
      },
      childOptions(this, opts),
    );
    this.virtualenv = pulumi.unsecret(env.create.apply(() => spec.virtualenv));
    this.written = runToken(env);
    this.registerOutputs({ virtualenv: this.virtualenv, written: this.written });
  }
}

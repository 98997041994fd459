import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import {
  checkLocalMachine,
  renderMachineDown,
  renderMachineUp,
  type LocalMachineSpec,
} from "./render/localMachine";
import { localLoaderCommand, loaderInput, renderPlainProgram } from "./render/remoteScripts";
import { isPlain, validated } from "./resourceHelpers";

/** Arguments of {@link LocalMachine}. */
export interface LocalMachineArgs {
  /** The machine's name: lower-case letters, digits and `-`. @default the resource name */
  name?: pulumi.Input<string>;
  /** The port its sshd listens on, on 127.0.0.1. @default 2222 */
  sshPort?: pulumi.Input<number>;
  /** Where machines keep their disk, key and PID. @default "/var/lib/gunicorn-upstart/machines" */
  stateDir?: pulumi.Input<string>;
  /** Where the built root file system is cached. @default "/var/cache/gunicorn-upstart/rootfs" */
  rootfsCache?: pulumi.Input<string>;
}

/**
 * A machine on the computer where `pulumi up` runs, for a service to run on with no cloud
 * account: Debian bookworm booted by `systemd-nspawn` (real systemd as PID 1, real sshd on
 * 127.0.0.1:<sshPort>), sharing the computer's network, with a `deploy` user that has
 * passwordless sudo and a key made for it. It outlives `pulumi up`; destroy stops it and
 * removes its disk. Needs root, and Debian's `debootstrap` and `systemd-container`.
 *
 * One `local.Command`: create and update boot it unless it runs (after the computer rebooted,
 * an `up` with a change boots it again from its own disk); delete stops it. Its stdout, the
 * connection with the private key, is a secret output: encrypted in the state. Its commands
 * are short stubs that load the scripts from standard input (the engine quotes a command into
 * every error it reports).
 */
export class LocalMachine extends pulumi.ComponentResource {
  /** The SSH connection to the machine (secret: it holds the private key). */
  public readonly connection: pulumi.Output<command.types.input.remote.ConnectionArgs>;
  /** The address its services are reached at: 127.0.0.1. */
  public readonly address: pulumi.Output<string>;

  constructor(name: string, args: LocalMachineArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:LocalMachine", name, {}, opts);
    const raw = {
      name: args.name ?? name,
      sshPort: args.sshPort,
      stateDir: args.stateDir,
      rootfsCache: args.rootfsCache,
    };
    const check = (r: typeof raw) =>
      validated(name, this, () => checkLocalMachine(r as Parameters<typeof checkLocalMachine>[0]));
    if (isPlain(raw)) check(raw);
    const spec: pulumi.Output<LocalMachineSpec> = pulumi.output(raw).apply((r) => check(r));
    // The same script creates and updates: it boots the machine unless it runs.
    const program = spec.apply((s) =>
      renderPlainProgram({ up: renderMachineUp(s), down: renderMachineDown(s) }),
    );
    const machine = new command.local.Command(
      `${name}-machine`,
      {
        create: localLoaderCommand("up"),
        update: localLoaderCommand("up"),
        delete: localLoaderCommand("down"),
        stdin: program.apply((p) => loaderInput(p)),
        interpreter: ["/bin/bash", "-c"],
        // The stdout holds the private key: never into the next run's environment.
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      { parent: this, additionalSecretOutputs: ["stdout"] },
    );
    this.connection = pulumi.secret(
      machine.stdout.apply((out) => {
        const line = out.trim().split("\n").pop() ?? "";
        try {
          return JSON.parse(line) as command.types.input.remote.ConnectionArgs;
        } catch {
          throw new pulumi.ResourceError(`${name}: the machine printed no connection`, this);
        }
      }),
    );
    this.address = pulumi.output("127.0.0.1");
    this.registerOutputs({ connection: this.connection, address: this.address });
  }
}

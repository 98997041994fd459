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
  /** The port its sshd listens on, forwarded from 127.0.0.1 on this computer. @default 2222 */
  sshPort?: pulumi.Input<number>;
  /**
   * The other ports it serves (nginx's HTTP and HTTPS), each forwarded from 127.0.0.1:<port>
   * on this computer to the same port in the machine; nothing else of it is reachable from
   * here. @default [8080, 8443] (the stack's nginx ports on the local machine)
   */
  ports?: pulumi.Input<number[]>;
  /** Where machines keep their disk, key and PID. @default "/var/lib/gunicorn-upstart/machines" */
  stateDir?: pulumi.Input<string>;
  /** Where the built root file system is cached. @default "/var/cache/gunicorn-upstart/rootfs" */
  rootfsCache?: pulumi.Input<string>;
}

/**
 * A machine on the computer where `pulumi up` runs, for a service to run on with no cloud
 * account: Debian bookworm booted by `systemd-nspawn` (real systemd as PID 1, real sshd), with
 * a `deploy` user that has passwordless sudo and a key made for it. It outlives `pulumi up`;
 * destroy stops it and removes its disk. Needs root, and Debian's `debootstrap`,
 * `systemd-container`, `slirp4netns` and `socat` (LOCAL_MACHINE_NEEDS).
 *
 * What it protects (a boundary, not a window): root in the machine — so the deploy user, who
 * has sudo there — is not root on this computer.
 * - A user namespace: root in it is UID 0x6f000000 here (its 0..65535 are
 *   0x6f000000..0x6f00ffff), with capabilities over its own namespaces only: it cannot make or
 *   open this computer's devices (it has none but the usual null, zero, random, tty, ...), nor
 *   write the kernel's settings under /proc/sys, nor touch files of this computer's users.
 * - Its own network (slirp4netns): it reaches out through this computer as an ordinary
 *   process would (apt-get, pip), never this computer's loopback (127.0.0.0/8, where the
 *   engine, the provider and other local services listen), and sees none of this computer's
 *   traffic. Only its sshPort and `ports` are reachable, forwarded from 127.0.0.1 here by a
 *   process of the machine's group that dies with it; a port another process holds already
 *   fails the boot, naming the port.
 * - A pinned SSH host key: made here, outside its disk, before it first boots; the connection
 *   carries it (`hostKey`), and every ssh to it checks it, so a process that took its port
 *   first gets no command and no secret.
 *
 * What it does not protect: it is a container, not a VM — one kernel, so a kernel bug is an
 * escape; its outbound network is this computer's (it can reach what this computer's
 * unprivileged users can, addresses other than loopback included); every local machine on
 * this computer shares the one UID range (their roots are the same UID here, though none sees
 * another's files, processes or network); this computer's root sees and changes everything
 * in it, and its private keys are files in its state directory readable by root only. Other
 * local users can connect to its forwarded ports, as to any port on 127.0.0.1.
 *
 * What systemd-nspawn cannot give here (systemd 252, kernel 6.18, no systemd as this
 * computer's init): ID-mapped mounts of the overlay root ("ID mapped mounts are apparently
 * not available"), so the cached tree is kept once more with its owners shifted into the
 * range, and every machine shares that range rather than picking its own; and nspawn's device
 * policy (a devices cgroup set through systemd's registration, off with --register=no), so it
 * is the user namespace that keeps devices out (mknod is refused; /dev holds only nspawn's own
 * nodes).
 *
 * One `local.Command`: create and update boot it unless it runs (after the computer rebooted,
 * an `up` with a change boots it again from its own disk); delete stops it. Its stdout, the
 * connection with the private key, is a secret output: encrypted in the state. Its commands
 * are short stubs that load the scripts from standard input (the engine quotes a command into
 * every error it reports).
 */
export class LocalMachine extends pulumi.ComponentResource {
  /** The SSH connection to the machine (secret: it holds the private key), with its pinned `hostKey`. */
  public readonly connection: pulumi.Output<command.types.input.remote.ConnectionArgs>;
  /** The address its services are reached at: 127.0.0.1. */
  public readonly address: pulumi.Output<string>;

  constructor(name: string, args: LocalMachineArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:LocalMachine", name, {}, opts);
    const raw = {
      name: args.name ?? name,
      sshPort: args.sshPort,
      ports: args.ports,
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

/**
 * The stack's resources from its validated config: the local machine when that is the target,
 * and one GunicornService on it, on a new EC2 instance, or on an existing host. `index.ts`
 * calls it with the stack's config; the local-machine test with the same defaults.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { GunicornService } from "./gunicornService";
import { LocalMachine } from "./localMachine";
import type { StackSettings } from "./render/stackConfig";

/** What {@link deployStack} needs besides the config: the secrets and names. */
export interface StackInputs {
  /** The app environment, secret values included. */
  appEnv: pulumi.Input<Record<string, string>>;
  /** The SSH private key for an existing host or a new VM (not used by the local machine). */
  privateKey: () => pulumi.Output<string>;
  /** The local machine's name. */
  machineName: string;
  /** The local machine's directories, when not the defaults (tests). */
  machineStateDir?: string;
  /** Options for every resource, e.g. a test's transformations. */
  opts?: pulumi.ComponentResourceOptions;
}

/** The app's requirements.txt, when it has one. */
function requirementsOf(appSource: string | undefined): string {
  const file = appSource === undefined ? undefined : join(appSource, "requirements.txt");
  return file !== undefined && existsSync(file) ? readFileSync(file, "utf8") : "";
}

export function deployStack(
  stack: StackSettings,
  inputs: StackInputs,
): { service: GunicornService; machine?: LocalMachine } {
  const target = stack.target;
  const machine =
    target.kind === "local"
      ? new LocalMachine(
          "app-machine",
          {
            name: inputs.machineName,
            sshPort: target.sshPort,
            // nginx's ports, forwarded from this computer's loopback (the machine's network is its own).
            ports: !stack.spec.nginx
              ? []
              : stack.spec.tls === "off"
                ? [stack.spec.httpPort]
                : [stack.spec.httpPort, stack.spec.httpsPort],
            ...(inputs.machineStateDir !== undefined ? { stateDir: inputs.machineStateDir } : {}),
          },
          inputs.opts,
        )
      : undefined;
  const service = new GunicornService(
    "app",
    {
      ...stack.spec,
      appEnv: inputs.appEnv,
      ...(stack.appSource !== undefined ? { appSource: stack.appSource } : {}),
      ...(stack.prepareHost !== undefined ? { prepareHost: stack.prepareHost } : {}),
      ...(stack.pythonEnv !== undefined
        ? { pythonEnv: { ...stack.pythonEnv, requirements: requirementsOf(stack.appSource) } }
        : {}),
      ...(target.kind === "local"
        ? { host: machine!.connection }
        : target.kind === "host"
          ? {
              host: {
                host: target.host,
                port: target.port,
                user: target.user,
                privateKey: inputs.privateKey(),
              },
            }
          : {
              vm: {
                publicKey: target.publicKey as string,
                privateKey: inputs.privateKey(),
                ...(target.sshUser !== undefined ? { sshUser: target.sshUser } : {}),
                ...(target.instanceType !== undefined ? { instanceType: target.instanceType } : {}),
                ...(target.ami !== undefined ? { ami: target.ami } : {}),
                ...(target.subnetId !== undefined ? { subnetId: target.subnetId } : {}),
                ...(target.allowedCidr !== undefined ? { allowedCidr: target.allowedCidr } : {}),
                sshCidr: target.sshCidr as string,
              },
            }),
    },
    inputs.opts,
  );
  return { service, ...(machine !== undefined ? { machine } : {}) };
}

// What a service needs to know about its VM, without loading the AWS SDK: the arguments, the
// outputs it uses, and the one place that loads ./vm. @pulumi/aws is large (its load alone
// takes seconds) and, where it is installed, every Pulumi package built on this library asks
// for the AWS provider plugin; a program on an existing host or the local machine needs
// neither, so ./vm is loaded only when a service provisions a VM.
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import type { Init } from "./render/spec";

/** Arguments of {@link Vm}. */
export interface VmArgs {
  /** OpenSSH public key installed for the login user (a new EC2 key pair). */
  publicKey: pulumi.Input<string>;
  /** Private key matching `publicKey`, used for the SSH connection. Kept secret. */
  privateKey: pulumi.Input<string>;
  /**
   * The init the image must have: `upstart` looks up Ubuntu 14.04, `systemd` Ubuntu 24.04.
   * GunicornService passes its own `init`. @default "upstart"
   */
  init?: pulumi.Input<Init>;
  /** EC2 instance type. @default "t2.micro" (upstart), "t3.micro" (systemd) */
  instanceType?: pulumi.Input<string>;
  /** Explicit AMI id; skips the lookup. @default the newest Ubuntu 14.04 (upstart) or 24.04 (systemd) by Canonical */
  ami?: pulumi.Input<string>;
  /** AMI owner account for the lookup. @default "099720109477" (Canonical) */
  amiOwner?: pulumi.Input<string>;
  /** AMI name pattern for the lookup. @default trusty 14.04 (upstart) or noble 24.04 (systemd), hvm-ssd, amd64 */
  amiNamePattern?: pulumi.Input<string>;
  /** Subnet to launch into (its VPC gets the security group). @default the default VPC */
  subnetId?: pulumi.Input<string>;
  /**
   * TCP ports of the app opened in the security group: Gunicorn's port when it binds a public
   * address, or nginx's HTTP and HTTPS ports. @default [] (none)
   */
  appPorts?: pulumi.Input<number[]>;
  /** CIDR allowed to reach the app ports. @default "0.0.0.0/0" */
  allowedCidr?: pulumi.Input<string>;
  /**
   * CIDR allowed to reach SSH (22), e.g. your address as `203.0.113.7/32`. Required: SSH is not
   * opened to the world unless you say so (`"0.0.0.0/0"`).
   */
  sshCidr: pulumi.Input<string>;
  /** Login user of the image. @default "ubuntu" */
  sshUser?: pulumi.Input<string>;
  /** Tags for every AWS resource. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** What {@link GunicornService} reads of its VM (the Vm class in ./vm has these and more). */
export interface VmOutputs {
  /** The instance's public IP address. */
  readonly publicIp: pulumi.Output<string>;
  /** The instance's public DNS name. */
  readonly publicDns: pulumi.Output<string>;
  /** The EC2 instance id. */
  readonly instanceId: pulumi.Output<string>;
  /** The AMI the instance runs. */
  readonly amiId: pulumi.Output<string>;
  /** SSH connection to the instance; the private key inside is a secret. */
  readonly connection: pulumi.Output<command.types.input.remote.ConnectionArgs>;
}

type VmClass = new (
  name: string,
  args: VmArgs,
  opts?: pulumi.ComponentResourceOptions,
) => VmOutputs & pulumi.ComponentResource;

/**
 * Makes a Vm, loading ./vm (and with it @pulumi/aws) on first use. Where @pulumi/aws is not
 * installed, the error names the field and what to install.
 */
export function newVm(
  name: string,
  args: VmArgs,
  opts: pulumi.ComponentResourceOptions & { parent: pulumi.Resource },
): VmOutputs & pulumi.ComponentResource {
  let vmClass: VmClass;
  try {
    // A require, not an import: an import would load @pulumi/aws with this module. Typed by hand,
    // not `typeof import("./vm")`, which would make every compile of this file (the plugin's,
    // which has no @pulumi/aws) read ./vm and the AWS types.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    vmClass = (require("./vm") as { Vm: VmClass }).Vm;
  } catch (err) {
    // Only @pulumi/aws itself missing is the user's to install; anything else is a fault.
    const missing = (err as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND";
    if (!missing || !/'@pulumi\/aws'/.test((err as Error).message)) throw err;
    throw new pulumi.ResourceError(
      `${name}: 'vm' provisions an EC2 instance, which needs the @pulumi/aws package beside this library (npm install @pulumi/aws@^7.48.0); it was not found: ${(err as Error).message.split("\n")[0]}`,
      opts.parent,
    );
  }
  return new vmClass(name, args, opts);
}

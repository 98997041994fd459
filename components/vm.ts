import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type * as command from "@pulumi/command";
import {
  checkCidr,
  checkPublicKey,
  newestAmi,
  VM_DEFAULTS,
  VM_IMAGE_DEFAULTS,
} from "./render/vmPlan";
import type { VmArgs, VmOutputs } from "./vmArgs";
import { validated } from "./resourceHelpers";

export type { VmArgs } from "./vmArgs";

/**
 * An EC2 instance for the service: AMI lookup (Ubuntu 14.04 "trusty" by default, the last
 * Ubuntu with Upstart), a key pair, a security group with SSH and the app port only, and the
 * SSH connection the rest of the component uses.
 */
export class Vm extends pulumi.ComponentResource implements VmOutputs {
  /** The instance's public IP address. */
  public readonly publicIp: pulumi.Output<string>;
  /** The instance's public DNS name. */
  public readonly publicDns: pulumi.Output<string>;
  /** The EC2 instance id. */
  public readonly instanceId: pulumi.Output<string>;
  /** The AMI the instance runs. */
  public readonly amiId: pulumi.Output<string>;
  /** SSH connection to the instance; the private key inside is a secret. */
  public readonly connection: pulumi.Output<command.types.input.remote.ConnectionArgs>;

  constructor(name: string, args: VmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:Vm", name, {}, opts);
    const allowedCidr = pulumi
      .output(args.allowedCidr ?? VM_DEFAULTS.allowedCidr)
      .apply((c) => validated(name, this, () => checkCidr("allowedCidr", c)));
    if (args.sshCidr === undefined) {
      throw new pulumi.ResourceError(
        `${name}: 'sshCidr' is required: the CIDR that may reach SSH, e.g. your address as 203.0.113.7/32 (or "0.0.0.0/0" to open SSH to the world)`,
        this,
      );
    }
    const sshCidr = pulumi
      .output(args.sshCidr)
      .apply((c) => validated(name, this, () => checkCidr("sshCidr", c)));
    const publicKey = pulumi
      .output(args.publicKey)
      .apply((k) => validated(name, this, () => checkPublicKey("publicKey", k)));
    const tags = pulumi.output(args.tags ?? {}).apply((t) => ({ ...t, "gunicorn-upstart": name }));

    const image = pulumi.output(args.init ?? "upstart").apply((init) => VM_IMAGE_DEFAULTS[init]);
    const amiNamePattern = args.amiNamePattern ?? image.amiNamePattern;
    // The lookup runs only without an explicit AMI, so a pinned AMI never drifts. It lists the
    // ids (newest first) rather than asking for one, so an empty result is our error at
    // preview, naming `ami`, instead of the provider's "Your query returned no results".
    const owner = args.amiOwner ?? VM_DEFAULTS.amiOwner;
    this.amiId =
      args.ami !== undefined
        ? pulumi.output(args.ami)
        : pulumi.all([amiNamePattern, image, owner]).apply(([pattern, img, amiOwner]) =>
            aws.ec2
              .getAmiIdsOutput(
                {
                  owners: [amiOwner],
                  includeDeprecated: img.includeDeprecated,
                  filters: [
                    { name: "name", values: [pattern] },
                    { name: "virtualization-type", values: ["hvm"] },
                    { name: "architecture", values: ["x86_64"] },
                  ],
                },
                { parent: this },
              )
              .apply((found) =>
                validated(name, this, () => newestAmi(found.ids, amiOwner, pattern)),
              ),
          );

    const vpcId =
      args.subnetId !== undefined
        ? aws.ec2.getSubnetOutput({ id: args.subnetId }, { parent: this }).apply((s) => s.vpcId)
        : undefined;

    const appIngress = pulumi.all([args.appPorts ?? [], allowedCidr]).apply(([ports, cidr]) =>
      ports.map((port) => ({
        protocol: "tcp",
        fromPort: port,
        toPort: port,
        cidrBlocks: [cidr],
        description: `the app (port ${port})`,
      })),
    );
    const sg = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        description: `SSH and the app ports of ${name}`,
        ...(vpcId !== undefined ? { vpcId } : {}),
        ingress: pulumi.all([sshCidr, appIngress]).apply(([ssh, app]) => [
          {
            protocol: "tcp",
            fromPort: 22,
            toPort: 22,
            cidrBlocks: [ssh],
            description: "SSH for pulumi up",
          },
          ...app,
        ]),
        egress: [
          { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], description: "all" },
        ],
        tags,
      },
      { parent: this },
    );
    const keyPair = new aws.ec2.KeyPair(`${name}-key`, { publicKey, tags }, { parent: this });
    const instance = new aws.ec2.Instance(
      `${name}-instance`,
      {
        ami: this.amiId,
        instanceType: args.instanceType ?? image.instanceType,
        keyName: keyPair.keyName,
        vpcSecurityGroupIds: [sg.id],
        associatePublicIpAddress: true,
        ...(args.subnetId !== undefined ? { subnetId: args.subnetId } : {}),
        tags: tags.apply((t) => ({ ...t, Name: name })),
      },
      { parent: this },
    );

    this.publicIp = instance.publicIp;
    this.publicDns = instance.publicDns;
    this.instanceId = instance.id;
    this.connection = pulumi.output({
      host: instance.publicIp,
      user: args.sshUser ?? VM_DEFAULTS.sshUser,
      privateKey: pulumi.secret(args.privateKey),
      dialErrorLimit: VM_DEFAULTS.dialErrorLimit,
      perDialTimeout: VM_DEFAULTS.perDialTimeout,
    });
    this.registerOutputs({
      publicIp: this.publicIp,
      publicDns: this.publicDns,
      instanceId: this.instanceId,
      amiId: this.amiId,
    });
  }
}

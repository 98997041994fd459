/**
 * Pure parts of the VM: AMI query, defaults and CIDR validation, kept apart from the AWS
 * resources so they are tested without a cloud.
 */
import { SpecError } from "./spec";

/** Canonical's AWS account, the owner of the official Ubuntu images. */
export const CANONICAL_OWNER = "099720109477";

/** Ubuntu 14.04 "trusty": the last Ubuntu LTS whose init is Upstart. */
export const TRUSTY_AMI_NAME = "ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-*";

/** Ubuntu 24.04 "noble": the current LTS, with systemd (gp3 root volumes in its image names). */
export const NOBLE_AMI_NAME = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*";

/**
 * The image and instance type a VM gets by default for each init. AWS deprecates public AMIs
 * within two years of their creation, and `DescribeImages` hides deprecated ones unless asked
 * for them: every trusty image is deprecated by now, so its lookup includes them.
 */
export const VM_IMAGE_DEFAULTS = {
  upstart: { amiNamePattern: TRUSTY_AMI_NAME, instanceType: "t2.micro", includeDeprecated: true },
  // Noble has the ENA/NVMe drivers, so the current generation of types works.
  systemd: { amiNamePattern: NOBLE_AMI_NAME, instanceType: "t3.micro", includeDeprecated: false },
} as const;

/**
 * The newest of the AMI ids a lookup found (the lookup sorts newest first); none found is an
 * error that says how to go on: pin one with `ami`.
 */
export function newestAmi(ids: string[], owner: string, namePattern: string): string {
  const id = ids[0];
  if (id === undefined) {
    throw new SpecError(
      "ami",
      `no AMI of owner ${owner} matches ${JSON.stringify(namePattern)} in this region (deprecated images included); pin one: pulumi config set ami ami-0123456789abcdef0 (or VmArgs.ami)`,
    );
  }
  return id;
}

export const VM_DEFAULTS = {
  /** t2: trusty's 3.13 kernel has no ENA/NVMe drivers for the Nitro instance types. */
  instanceType: "t2.micro",
  /** The login user of Ubuntu's cloud images. */
  sshUser: "ubuntu",
  amiOwner: CANONICAL_OWNER,
  amiNamePattern: TRUSTY_AMI_NAME,
  allowedCidr: "0.0.0.0/0",
  /** A fresh instance takes a minute or two to answer SSH: 60 tries of 10 s. */
  dialErrorLimit: 60,
  perDialTimeout: 10,
} as const;

/** An IPv4 CIDR such as `203.0.113.7/32`. */
export function checkCidr(field: string, value: unknown): string {
  const m =
    typeof value === "string"
      ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value)
      : null;
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
    throw new SpecError(
      field,
      `expected an IPv4 CIDR such as 203.0.113.7/32, got ${JSON.stringify(value)}`,
    );
  }
  return value as string;
}

/** An OpenSSH public key line (`ssh-ed25519 AAAA... comment`). */
export function checkPublicKey(field: string, value: unknown): string {
  if (
    typeof value !== "string" ||
    !/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^\n]*)?$/.test(
      value.trim(),
    )
  ) {
    throw new SpecError(
      field,
      "expected an OpenSSH public key line such as 'ssh-ed25519 AAAA... me@laptop'",
    );
  }
  return value.trim();
}

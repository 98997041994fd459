// Vm under mocks: the AMI lookup (Ubuntu 14.04 by Canonical unless pinned), the security
// group (SSH and the app port only, from the given CIDRs), the key pair and the connection.
import { test, describe, beforeEach } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { Vm, type VmArgs } from "../../components";
import { calls, recorded, recorder, reset, settle, valueOf } from "../helpers/pulumiMocks";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@laptop";
const base: VmArgs = {
  publicKey: KEY,
  privateKey: pulumi.secret("PRIVATE"),
  sshCidr: "192.0.2.1/32",
};

async function evaluate(args: VmArgs): Promise<Vm> {
  const vm = new Vm("web", args, { transformations: [recorder] });
  await valueOf(vm.publicIp);
  await valueOf(vm.connection);
  await settle();
  return vm;
}
const inputsOf = (name: string) => recorded.find((r) => r.name === name)!.inputs;

describe("Vm", () => {
  beforeEach(async () => {
    await settle();
    reset();
  });

  test("looks up the newest Ubuntu 14.04 (Upstart) HVM image owned by Canonical", async () => {
    const vm = await evaluate(base);
    const lookup = calls.find((c) => c.token === "aws:ec2/getAmiIds:getAmiIds")!;
    assert.deepEqual(lookup.inputs.owners, ["099720109477"]);
    assert.equal(lookup.inputs.includeDeprecated, true, "every trusty image is deprecated by now");
    const filters = lookup.inputs.filters as { name: string; values: string[] }[];
    assert.deepEqual(filters.find((f) => f.name === "name")!.values, [
      "ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-*",
    ]);
    assert.equal(await valueOf(vm.amiId), "ami-0trusty1404");
    assert.equal(inputsOf("web-instance").ami, "ami-0trusty1404");
  });

  test("init systemd looks up Ubuntu 24.04 (systemd) instead, on a current instance type", async () => {
    await evaluate({ ...base, init: "systemd" });
    const lookup = calls.find((c) => c.token === "aws:ec2/getAmiIds:getAmiIds")!;
    const filters = lookup.inputs.filters as { name: string; values: string[] }[];
    assert.deepEqual(filters.find((f) => f.name === "name")!.values, [
      "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
    ]);
    assert.equal(inputsOf("web-instance").instanceType, "t3.micro");
    reset();
    await evaluate(base);
    assert.equal(inputsOf("web-instance").instanceType, "t2.micro", "trusty: no Nitro drivers");
  });

  test("an explicit AMI id skips the lookup", async () => {
    await evaluate({ ...base, ami: "ami-0123456789abcdef0", instanceType: "t3.small" });
    assert.equal(calls.filter((c) => c.token === "aws:ec2/getAmiIds:getAmiIds").length, 0);
    assert.equal(inputsOf("web-instance").ami, "ami-0123456789abcdef0");
    assert.equal(inputsOf("web-instance").instanceType, "t3.small");
  });

  test("the security group opens SSH and the app port only, each from its CIDR", async () => {
    await evaluate({
      ...base,
      appPorts: [8000],
      allowedCidr: "198.51.100.0/24",
      sshCidr: "203.0.113.7/32",
    });
    const ingress = inputsOf("web-sg").ingress as {
      fromPort: number;
      toPort: number;
      cidrBlocks: string[];
    }[];
    assert.deepEqual(
      ingress.map((i) => [i.fromPort, i.toPort, i.cidrBlocks]),
      [
        [22, 22, ["203.0.113.7/32"]],
        [8000, 8000, ["198.51.100.0/24"]],
      ],
    );
  });

  test("SSH is never opened to the world by default: sshCidr is required", () => {
    const rest: Partial<VmArgs> = { ...base };
    delete rest.sshCidr;
    assert.throws(
      () => new Vm("web", rest as VmArgs),
      (e: unknown) => e instanceof pulumi.ResourceError && /'sshCidr' is required/.test(e.message),
    );
  });

  test("without an app port (loopback bind) only SSH is open", async () => {
    await evaluate(base);
    const ingress = inputsOf("web-sg").ingress as { fromPort: number }[];
    assert.deepEqual(
      ingress.map((i) => i.fromPort),
      [22],
    );
  });

  test("a subnet puts the security group into the subnet's VPC", async () => {
    await evaluate({ ...base, subnetId: "subnet-0aa" });
    assert.equal(inputsOf("web-sg").vpcId, "vpc-0abc");
    assert.equal(inputsOf("web-instance").subnetId, "subnet-0aa");
  });

  test("the key pair carries the public key; the connection carries the private key as a secret", async () => {
    const vm = await evaluate(base);
    assert.equal(inputsOf("web-key").publicKey, KEY);
    assert.equal(inputsOf("web-instance").keyName, "web-key-key");
    assert.equal(await pulumi.isSecret(vm.connection), true);
    const conn = await valueOf(vm.connection);
    assert.equal(conn.host, "203.0.113.10");
    assert.equal(conn.user, "ubuntu");
  });

  test("tags every resource, and names the instance", async () => {
    await evaluate({ ...base, tags: { team: "web" } });
    for (const name of ["web-sg", "web-key", "web-instance"]) {
      assert.equal((inputsOf(name).tags as Record<string, string>).team, "web", name);
    }
    assert.equal((inputsOf("web-instance").tags as Record<string, string>).Name, "web");
  });
});

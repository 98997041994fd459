// The VM's pure checks: CIDRs and public keys are refused with the field named; the AMI lookup.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkCidr,
  checkPublicKey,
  newestAmi,
  VM_IMAGE_DEFAULTS,
} from "../../components/render/vmPlan";
import { SpecError } from "../../components/render/spec";

test("CIDRs must be IPv4 CIDRs", () => {
  assert.equal(checkCidr("allowedCidr", "0.0.0.0/0"), "0.0.0.0/0");
  assert.equal(checkCidr("sshCidr", "203.0.113.7/32"), "203.0.113.7/32");
  for (const bad of ["0.0.0.0", "256.1.1.1/32", "1.2.3.4/33", "any", "1.2.3.4/32; rm"]) {
    assert.throws(
      () => checkCidr("sshCidr", bad),
      (e: unknown) => e instanceof SpecError && e.field === "sshCidr",
    );
  }
});

test("public keys must be one OpenSSH key line", () => {
  assert.ok(checkPublicKey("publicKey", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@laptop"));
  for (const bad of [
    "",
    "not a key",
    "ssh-ed25519 AAAA\nssh-rsa BBBB",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
  ]) {
    assert.throws(
      () => checkPublicKey("publicKey", bad),
      (e: unknown) => e instanceof SpecError && e.field === "publicKey",
    );
  }
});

test("the AMI lookup takes the newest id, and finding none says to pin one with ami", () => {
  assert.equal(newestAmi(["ami-new", "ami-old"], "099720109477", "ubuntu-*"), "ami-new");
  assert.throws(
    () => newestAmi([], "099720109477", VM_IMAGE_DEFAULTS.upstart.amiNamePattern),
    (e: unknown) =>
      e instanceof SpecError &&
      /invalid 'ami': no AMI of owner 099720109477 matches .*trusty.* \(deprecated images included\); pin one: pulumi config set ami/.test(
        e.message,
      ),
  );
  // Every trusty image is past AWS's two-year deprecation: the lookup must ask for them.
  assert.equal(VM_IMAGE_DEFAULTS.upstart.includeDeprecated, true);
});

// What the engine shows a person: the command provider quotes a command's whole `create`,
// `update` or `delete` string into every error it reports (and `pulumi up` prints an error
// three times). Every command the components register is a short fixed line; the programs come
// on standard input. Under mocks, for every way of deploying: every option on a host, systemd,
// the privileged helper, a fleet, and the local machine.
import { test, describe, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  GunicornFleet,
  GunicornService,
  LocalMachine,
  type GunicornServiceArgs,
} from "../../components";
import { recorded, recorder, reset, settle, valueOf } from "../helpers/pulumiMocks";
import { loaded, operationOf } from "../helpers/loaded";
import { isMarkedSecret } from "../helpers/secrets";

/** The longest command line a failure's message may quote. */
const MAX_COMMAND_BYTES = 300;

const KEY = "-----BEGIN PRIVATE KEY-----\nsite-key-material\n-----END PRIVATE KEY-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nsite-cert\n-----END CERTIFICATE-----\n";
const host = { host: "10.0.0.5", user: "deploy", privateKey: pulumi.secret("K") };

function app(): string {
  const dir = mkdtempSync(join(tmpdir(), "app-"));
  writeFileSync(join(dir, "manage.py"), "print('hi')\n");
  writeFileSync(join(dir, "views.py"), `${"# a line of the app\n".repeat(2000)}`);
  return dir;
}

async function service(args: GunicornServiceArgs): Promise<void> {
  const svc = new GunicornService("app", args, { transformations: [recorder] });
  await valueOf(svc.status);
  await settle();
}

/**
 * The commands of every command resource recorded: a script would be long, hold newlines
 * and its shell's `set -euo pipefail`. The user's own commands (a fleet's balancer steps) are
 * theirs, not ours.
 */
function assertShortCommands(what: string): void {
  const commands = recorded.filter(
    (r) =>
      r.type === "command:remote:Command" ||
      (r.type === "command:local:Command" && r.name.endsWith("-machine")),
  );
  assert.ok(commands.length > 0, `${what}: no commands`);
  for (const c of commands) {
    for (const key of ["create", "update", "delete"]) {
      const value = c.inputs[key];
      if (value === undefined) continue;
      const line = String(value);
      const label = `${what}: ${c.name}.${key} (${Buffer.byteLength(line)} bytes)`;
      assert.ok(Buffer.byteLength(line) < MAX_COMMAND_BYTES, `${label}: ${line.slice(0, 400)}`);
      assert.doesNotMatch(line, /\n/, `${label} is one line`);
      assert.doesNotMatch(line, /set -e|pipefail|root_only_dir|expected_bytes/, label);
    }
  }
}

describe("every command the components register is a short fixed line, never a script", () => {
  beforeEach(async () => {
    await settle();
    reset();
  });

  test("a service on a host with every step: host setup, virtualenv, release, files, lifecycle, nginx with TLS", async () => {
    await service({
      host,
      appSource: app(),
      prepareHost: true,
      pythonEnv: { requirements: "Django>=4\n" },
      nginx: true,
      tls: "self-signed",
      appEnv: { SECRET_KEY: pulumi.secret("s3cret") },
    });
    assertShortCommands("upstart, sudo all");
    // The programs are there instead: ahead of the content, and the content keeps its secrecy.
    const config = recorded.find((r) => r.name === "app-config-write")!.inputs;
    assert.ok(isMarkedSecret(config.stdin), "a secret content keeps the whole stdin secret");
    assert.match(operationOf(config, "write")!.label, /^writing \/etc\/gunicorn\//);
    assert.match(loaded(config.stdin).content, /"SECRET_KEY=s3cret"/);
    // The same stub for each resource and operation: nothing in it but the operation.
    const creates = new Set(
      recorded
        .filter((r) => r.type === "command:remote:Command")
        .map((r) => String(r.inputs.create).replace(/'[a-z-]+'$/, "")),
    );
    assert.equal(creates.size, 1, [...creates].join("\n"));
  });

  test("systemd, a certificate from the stack", async () => {
    await service({
      host,
      init: "systemd",
      appSource: app(),
      nginx: true,
      serverName: "www.example.com",
      tls: "certificate",
      tlsCertificate: CERT,
      tlsKey: KEY,
    });
    assertShortCommands("systemd, tls certificate");
  });

  test("the privileged helper (sudo: helper)", async () => {
    await service({ host, sudo: "helper", setuid: "user", setgid: "user", appSource: app() });
    assertShortCommands("sudo helper");
  });

  test("a fleet of VMs behind a load balancer", async () => {
    const fleet = new GunicornFleet(
      "web",
      {
        service: { bind: "0.0.0.0:8000", healthCheckPath: "/health", appSource: app() },
        vms: {
          count: 2,
          subnetIds: ["subnet-a", "subnet-b"],
          vm: {
            publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@laptop",
            privateKey: "K",
            sshCidr: "198.51.100.7/32",
          },
        },
      },
      { transformations: [recorder] },
    );
    for (const s of fleet.services) await valueOf(s.status);
    await settle();
    assertShortCommands("fleet");
  });

  test("the local machine", async () => {
    const machine = new LocalMachine("lm", {}, { transformations: [recorder] });
    await valueOf(machine.address);
    await settle();
    assertShortCommands("local machine");
    const inputs = recorded.find((r) => r.name === "lm-machine")!.inputs;
    assert.match(loaded(inputs.stdin).program, /systemd-nspawn/);
  });
});

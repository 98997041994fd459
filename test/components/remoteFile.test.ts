// RemoteFile under mocks: one remote.Command per file, content only through stdin (a secret
// stays secret), atomic write script, replaced when the path changes, bad input refused.
import { test, describe, beforeEach } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { RemoteFile } from "../../components";
import { recorded, recorder, reset, settle, valueOf } from "../helpers/pulumiMocks";
import { isMarkedSecret } from "../helpers/secrets";
import { contentOf, operationOf } from "../helpers/loaded";

const connection = { host: "10.0.0.5", user: "deploy", privateKey: pulumi.secret("K") };

describe("RemoteFile", () => {
  beforeEach(async () => {
    await settle();
    reset();
  });

  test("a secret content is a secret stdin, absent from every command, and a secret output", async () => {
    const f = new RemoteFile(
      "env",
      {
        connection,
        path: "/etc/app/env",
        content: pulumi.secret("TOKEN=abc123"),
        group: "app",
        mode: "0640",
      },
      { transformations: [recorder] },
    );
    await valueOf(f.path);
    await settle();
    const cmd = recorded.find((r) => r.name === "env-write")!.inputs;
    assert.ok(isMarkedSecret(cmd.stdin));
    for (const key of ["create", "update", "delete"]) {
      assert.equal(typeof cmd[key], "string", `${key} is a readable, non-secret string`);
      assert.ok(!String(cmd[key]).includes("abc123"));
    }
    const write = operationOf(cmd, "write")!.script;
    assert.match(write, /^EXPECTED_BYTES=12$/m);
    assert.match(write, /^MODE='0640'$/m);
    assert.equal(contentOf(cmd), "TOKEN=abc123", "the content follows the program on stdin");
    assert.equal(await pulumi.isSecret(f.content), true);
    assert.equal(await valueOf(f.path), "/etc/app/env");
    assert.deepEqual(
      cmd.triggers,
      ["/etc/app/env", "10.0.0.5:22"],
      "a new path or host replaces (removes old, writes new)",
    );
  });

  test("defaults to root:root 0644", async () => {
    const f = new RemoteFile(
      "motd",
      { connection, path: "/etc/motd", content: "hi\n" },
      { transformations: [recorder] },
    );
    await valueOf(f.path);
    await settle();
    const cmd = recorded.find((r) => r.name === "motd-write")!.inputs;
    const write = operationOf(cmd, "write")!.script;
    assert.match(write, /^OWNER='root'\nGROUP='root'$/m);
    assert.match(write, /^MODE='0644'$/m);
  });

  test("refuses a relative path, a bad mode or owner, naming the field, before writing anything", () => {
    for (const [args, message] of [
      [{ path: "etc/motd" }, /motd: invalid 'path': .*not absolute/],
      [{ path: "/etc/motd", mode: "rw-r--r--" }, /motd: invalid 'mode': expected an octal mode/],
      [{ path: "/etc/motd", owner: "root:wheel" }, /motd: invalid 'owner'/],
    ] as const) {
      reset();
      assert.throws(
        () =>
          new RemoteFile(
            "motd",
            { connection, content: "hi\n", ...args },
            { transformations: [recorder] },
          ),
        (e: unknown) => e instanceof pulumi.ResourceError && message.test(e.message),
      );
      assert.equal(recorded.filter((r) => r.name === "motd-write").length, 0);
    }
  });
});

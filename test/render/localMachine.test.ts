// The local machine's scripts, pure: they pass bash -n and shellcheck, carry the settings
// quoted, and bad settings are refused naming the field. (They run for real, booting a
// machine, in test/integration/localMachine.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  checkLocalMachine,
  renderMachineBoot,
  renderMachineDown,
  renderMachineUp,
} from "../../components/render/localMachine";
import { SpecError } from "../../components/render/spec";

const spec = checkLocalMachine({ name: "gunicorn-upstart-dev" });

test("the up, boot and down scripts pass bash -n and shellcheck", () => {
  for (const [what, script] of [
    ["up", renderMachineUp(spec)],
    ["boot", renderMachineBoot()],
    ["down", renderMachineDown(spec)],
  ] as const) {
    assert.equal(spawnSync("bash", ["-n"], { input: script }).status, 0, `${what}: bash -n`);
    const sc = spawnSync("shellcheck", ["-s", "bash", "-"], { input: script, encoding: "utf8" });
    assert.equal(sc.status, 0, `${what}: ${sc.stdout}`);
  }
});

test("defaults: sshd on 127.0.0.1:2222, nginx's 8080 and 8443 forwarded, a deploy user, state and rootfs cache outside the repo", () => {
  assert.deepEqual(spec, {
    name: "gunicorn-upstart-dev",
    sshPort: 2222,
    ports: [8080, 8443],
    stateDir: "/var/lib/gunicorn-upstart/machines",
    rootfsCache: "/var/cache/gunicorn-upstart/rootfs",
  });
  const up = renderMachineUp(spec);
  assert.match(up, /^DIR='\/var\/lib\/gunicorn-upstart\/machines\/gunicorn-upstart-dev'$/m);
  assert.match(up, /^PORT=2222$/m);
  assert.match(up, /^FORWARDS='2222 8080 8443'$/m);
  assert.match(up, /^USER_NAME='deploy'$/m);
  assert.match(up, /needs root/);
  assert.match(renderMachineDown(spec), /rm -rf -- "\$DIR"/);
});

test("the machine's ssh checks its pinned host key, and the connection carries it", () => {
  const up = renderMachineUp(spec);
  assert.doesNotMatch(up, /StrictHostKeyChecking=no/);
  assert.match(up, /StrictHostKeyChecking=yes -o UserKnownHostsFile="\$DIR\/known_hosts"/);
  assert.match(up, /hostKey: fs\.readFileSync\(process\.env\.HOST_KEY/);
  const boot = renderMachineBoot();
  assert.match(boot, /--private-users="\$UID_BASE:65536"/);
  assert.match(boot, /--private-network/);
  assert.match(boot, /--disable-host-loopback/);
});

test("bad settings are refused naming the field", () => {
  for (const [raw, field] of [
    [{ name: "Dev Stack" }, "name"],
    [{ name: "dev;rm" }, "name"],
    [{ name: "dev", sshPort: 0 }, "sshPort"],
    [{ name: "dev", ports: "8080" }, "ports"],
    [{ name: "dev", ports: [70000] }, "ports"],
    [{ name: "dev", sshPort: 8080 }, "ports"],
    [{ name: "dev", ports: [9000, 9000] }, "ports"],
    [{ name: "dev", stateDir: "relative/dir" }, "stateDir"],
    [{ name: "dev", rootfsCache: "/tmp/$(x)" }, "rootfsCache"],
  ] as const) {
    assert.throws(
      () => checkLocalMachine(raw),
      (e: unknown) => e instanceof SpecError && e.message.includes(`'${field}'`),
      JSON.stringify(raw),
    );
  }
});

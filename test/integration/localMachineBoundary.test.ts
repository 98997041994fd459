// The local machine is a boundary, not a window (security issue 23, findings 2 and 7): a real
// machine is booted with the LocalMachine's own scripts (components/render/localMachine.ts),
// and root inside it, over SSH as the deploy user with sudo (what a stack's commands run as),
// tries what root there could do to this computer before: read this computer's disk through a
// block device it made, open the kernel's core_pattern for writing through a fresh proc mount,
// capture this computer's loopback traffic with a packet socket, and connect to what listens
// on this computer's loopback (the engine and the provider, while `up` runs). Then a squatter: a
// process holding the machine's SSH port before it boots fails the boot, naming the port, and
// an sshd with another host key is refused by a client that pins the machine's key.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { createServer, type Server } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "../helpers/freePort";
import {
  checkLocalMachine,
  renderMachineDown,
  renderMachineUp,
  LOCAL_MACHINE_DEFAULTS,
} from "../../components/render/localMachine";

interface Connection {
  host: string;
  port: number;
  user: string;
  privateKey: string;
  hostKey?: string;
}

let stateDir: string;
let sshPort: number;
let squatPort: number;
let fakePort: number;
let conn: Connection;
let keyFile: string;
let knownHosts: string;
const name = `bnd-${process.pid}`;
const squatName = `bnd-${process.pid}-sq`;

/** The machine's up or down script, run here as `pulumi up` would (root, bash). */
function machineScript(which: "up" | "down", machine: string, port: number, timeoutMs = 300_000) {
  const spec = checkLocalMachine({ name: machine, sshPort: port, ports: [], stateDir });
  const script = which === "up" ? renderMachineUp(spec) : renderMachineDown(spec);
  return spawnSync("bash", ["-c", script], { encoding: "utf8", timeout: timeoutMs });
}

/** ssh to the machine as the deploy user, checking its pinned host key. */
function sshArgs(port: number, command: string): string[] {
  return [
    "-i",
    keyFile,
    "-p",
    String(port),
    "-o",
    // A machine with no pinned key (before issue 23) is still attacked: the first test fails.
    `StrictHostKeyChecking=${conn.hostKey !== undefined ? "yes" : "no"}`,
    "-o",
    `UserKnownHostsFile=${conn.hostKey !== undefined ? knownHosts : "/dev/null"}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=10",
    `${conn.user}@127.0.0.1`,
    command,
  ];
}

/** A bash script run as root in the machine (sudo, as the stack's commands are). */
function asRoot(script: string) {
  return spawnSync("ssh", sshArgs(conn.port, "sudo bash -s"), {
    input: script,
    encoding: "utf8",
    timeout: 60_000,
  });
}

/** {@link asRoot}, leaving this process's event loop free (for a server of the test's own). */
function asRootAsync(
  script: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("ssh", sshArgs(conn.port, "sudo bash -s"), { stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(script);
  });
}

describe("root in the local machine is not root on this computer", { timeout: 600_000 }, () => {
  before(() => {
    stateDir = mkdtempSync(join(tmpdir(), "machines-boundary-"));
  });
  before(async () => {
    [sshPort, squatPort, fakePort] = (await freePorts(3)) as [number, number, number];
    const up = machineScript("up", name, sshPort);
    assert.equal(up.status, 0, `the machine boots: ${up.stderr.slice(-3000)}`);
    conn = JSON.parse(up.stdout.trim().split("\n").pop() ?? "") as Connection;
    keyFile = join(stateDir, "deploy-key");
    writeFileSync(keyFile, conn.privateKey, { mode: 0o600 });
    // What a client that pins the connection's hostKey knows: nothing else.
    knownHosts = join(stateDir, "known_hosts");
    writeFileSync(knownHosts, `[127.0.0.1]:${conn.port} ${conn.hostKey ?? ""}\n`);
  });
  after(() => {
    // Whatever happened, leave no machine running.
    for (const machine of [name, squatName]) machineScript("down", machine, sshPort);
    rmSync(stateDir, { recursive: true, force: true });
  });

  test("the connection carries the machine's SSH host key, and ssh checking it gets in", () => {
    assert.match(conn.hostKey ?? "", /^ssh-ed25519 [A-Za-z0-9+/=]+( |$)/, "a pinned host key");
    assert.equal(conn.user, LOCAL_MACHINE_DEFAULTS.user);
    const who = asRoot("id -u");
    assert.equal(who.status, 0, who.stderr);
    assert.equal(who.stdout.trim(), "0", "root in the machine (sudo works there)");
  });

  test("root in the machine cannot read this computer's disk through a block device it makes", () => {
    // The device of this computer's root file system, as this computer numbers it.
    const dev = spawnSync("findmnt", ["-no", "MAJ:MIN", "/"], { encoding: "utf8" }).stdout.trim();
    const [major, minor] = dev.split(":");
    assert.match(dev, /^\d+:\d+$/);
    const r = asRoot(
      `set -e; rm -f /root/disk; mknod /root/disk b ${major} ${minor}; head -c 4096 /root/disk | od -An -tx1 | head -n 4; echo READ`,
    );
    assert.notEqual(r.status, 0, `mknod and read succeeded: ${r.stdout}`);
    assert.doesNotMatch(r.stdout, /READ/);
    assert.match(r.stderr, /Operation not permitted|Permission denied/, r.stderr);
  });

  test("root in the machine cannot open the kernel's core_pattern for writing through a fresh proc", () => {
    // No write is attempted: opening it for writing is the escalation (core_pattern runs a
    // program as this computer's root).
    const r = asRoot(
      [
        "mkdir -p /root/freshproc",
        "mountpoint -q /root/freshproc || mount -t proc proc /root/freshproc || { echo 'no proc mount'; exit 3; }",
        'python3 -c \'import os; os.close(os.open("/root/freshproc/sys/kernel/core_pattern", os.O_WRONLY)); print("OPENED")\'',
      ].join("\n"),
    );
    assert.notEqual(r.status, 0, `opened for writing: ${r.stdout}`);
    assert.doesNotMatch(r.stdout, /OPENED/);
    assert.match(
      `${r.stdout}${r.stderr}`,
      /Permission denied|Operation not permitted|no proc mount/,
    );
  });

  test("a packet socket in the machine sees none of this computer's loopback traffic", async () => {
    const marker = `boundary-${process.pid}-${Date.now()}`;
    const [udpPort] = (await freePorts(1)) as [number];
    // Listens on every interface it has for 4 s and says whether the marker went by.
    const sniffer = [
      "import socket, time",
      "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))",
      "s.settimeout(0.2)",
      "print('LISTENING', flush=True)",
      "deadline = time.time() + 4",
      "seen = False",
      "while time.time() < deadline:",
      "    try:",
      "        data = s.recv(65535)",
      "    except socket.timeout:",
      "        continue",
      `    if b${JSON.stringify(marker)} in data:`,
      "        seen = True",
      "print('SEEN' if seen else 'NOT SEEN', flush=True)",
    ].join("\n");
    const child = spawn("ssh", sshArgs(conn.port, "sudo python3 -"), { stdio: "pipe" });
    child.stdin.end(sniffer);
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const done = new Promise<number | null>((resolve) => child.on("close", resolve));
    // Sends the marker on this computer's loopback while the sniffer listens (or has failed).
    const deadline = Date.now() + 15_000;
    while (!/LISTENING/.test(out) && child.exitCode === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const udp = createSocket("udp4");
    for (let i = 0; i < 20 && child.exitCode === null; i++) {
      udp.send(marker, udpPort, "127.0.0.1");
      await new Promise((r) => setTimeout(r, 100));
    }
    udp.close();
    const status = await done;
    assert.doesNotMatch(out, /^SEEN$/m, `the machine saw this computer's loopback: ${out}`);
    // Either the socket is refused, or it sees only the machine's own network.
    assert.ok(/NOT SEEN/.test(out) || status !== 0, `${out} ${err}`);
  });

  test("nothing in the machine reaches what listens on this computer's loopback", async () => {
    // As the engine and the provider do while `up` runs: a server on 127.0.0.1 here.
    const [port] = (await freePorts(1)) as [number];
    let reached = false;
    const server = createServer((s) => {
      reached = true;
      s.end("HOST LOOPBACK\n");
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    try {
      // Its own 127.0.0.1, and slirp4netns's gateway (which maps to this computer's loopback
      // unless told not to).
      // Not spawnSync: the server here must answer while the machine tries it.
      const r = await asRootAsync(
        ["127.0.0.1", "10.0.2.2"]
          .map((a) => `timeout 5 bash -c 'cat </dev/tcp/${a}/${port}' && echo "REACHED ${a}"; true`)
          .join("\n"),
      );
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /REACHED|HOST LOOPBACK/, r.stdout);
      assert.equal(reached, false, "the server here was reached");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("a process holding the SSH port before the machine boots fails the boot, naming the port", async () => {
    const squatter: Server = createServer((s) => s.end("SSH-2.0-OpenSSH_9.2p1 squatter\r\n"));
    await new Promise<void>((resolve) => squatter.listen(squatPort, "127.0.0.1", resolve));
    try {
      const t = Date.now();
      const up = machineScript("up", squatName, squatPort, 120_000);
      assert.notEqual(up.status, 0, "the boot fails");
      assert.match(
        up.stderr,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${squatPort} on this computer`),
        up.stderr.slice(-2000),
      );
      assert.ok(Date.now() - t < 60_000, "and says so at once");
      assert.equal(up.stdout.trim(), "", "no connection is printed");
    } finally {
      await new Promise((r) => squatter.close(r));
      machineScript("down", squatName, squatPort);
    }
  });

  test("an sshd with another host key on the machine's address is refused by the pinned key", async () => {
    assert.ok(conn.hostKey, "the connection pins the machine's host key");
    // A throwaway sshd that would accept the deploy key: a convincing impostor.
    const dir = mkdtempSync(join(stateDir, "fake-sshd-"));
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
    const pub = spawnSync("ssh-keygen", ["-y", "-f", keyFile], { encoding: "utf8" }).stdout;
    writeFileSync(join(dir, "authorized_keys"), pub);
    const config = [
      `Port ${fakePort}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_key")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "StrictModes no",
      `PidFile ${join(dir, "pid")}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
    ].join("\n");
    writeFileSync(join(dir, "sshd_config"), `${config}\n`);
    spawnSync("mkdir", ["-p", "/run/sshd"]);
    const sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], {
      stdio: "ignore",
    });
    try {
      await waitForPort(fakePort);
      const base = [
        "-i",
        keyFile,
        "-p",
        String(fakePort),
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
      ];
      // Without the pin it would take our commands (as the provider did without hostKey).
      const unpinned = spawnSync(
        "ssh",
        [
          ...base,
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "root@127.0.0.1",
          "echo TAKEN",
        ],
        { encoding: "utf8", timeout: 30_000 },
      );
      assert.match(unpinned.stdout, /TAKEN/, `the impostor is convincing: ${unpinned.stderr}`);
      // With the machine's key pinned (the connection's hostKey), it is refused.
      const pinned = join(dir, "known_hosts");
      writeFileSync(pinned, `[127.0.0.1]:${fakePort} ${conn.hostKey ?? ""}\n`);
      const r = spawnSync(
        "ssh",
        [
          ...base,
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          `UserKnownHostsFile=${pinned}`,
          "root@127.0.0.1",
          "echo TAKEN",
        ],
        { encoding: "utf8", timeout: 30_000 },
      );
      assert.notEqual(r.status, 0);
      assert.doesNotMatch(r.stdout, /TAKEN/);
      assert.match(
        r.stderr,
        /Host key verification failed|host key .*differs|REMOTE HOST IDENTIFICATION/i,
      );
    } finally {
      sshd.kill("SIGTERM");
    }
  });
});

function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = createServer();
      s.once("error", () => resolve());
      s.listen(port, "127.0.0.1", () => {
        s.close(() =>
          Date.now() > deadline
            ? reject(new Error(`nothing on ${port}`))
            : setTimeout(attempt, 100),
        );
      });
    };
    attempt();
  });
}

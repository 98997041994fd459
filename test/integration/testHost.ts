// The real-host test harness's host: a real OpenSSH server on 127.0.0.1:<free port>, inside
// its own mount and PID namespaces (see test/host/start-host.sh), with a non-root `deploy`
// user with passwordless sudo (which a test may narrow), an `admin` user for the test's own
// root access, and a key pair made for this run. Stopped by its PID, which
// takes every process started in it (sshd, the Upstart stand-in, Gunicorn) along.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../helpers/freePort";

const START_HOST = resolve(__dirname, "../host/start-host.sh");
const START_SYSTEMD_HOST = resolve(__dirname, "../host/start-systemd-host.sh");
const BUILD_ROOTFS = resolve(__dirname, "../../components/host/build-rootfs.sh");

/**
 * The root file system of the systemd host, built once per machine (about 70 s) and cached in
 * TEST_ROOTFS_CACHE (default /var/tmp/gunicorn-upstart-test), outside git.
 */
function systemdRootfs(): string {
  // The product's builder (the local machine's), with Debian's Gunicorn and Django on top.
  const args = [
    BUILD_ROOTFS,
    process.env.TEST_ROOTFS_CACHE ?? "/var/tmp/gunicorn-upstart-test",
    // libjs-jquery: Debian's Django links its admin's jquery.js there (a Recommends, which
    // debootstrap does not install); collectstatic fails on the dangling link without it.
    // nginx and openssl: the nginx site (tls self-signed).
    // python3-celery, python3-redis and redis-server: the processes beside the web.
    "gunicorn,python3-django,libjs-jquery,nginx,openssl,python3-celery,python3-redis,redis-server",
  ];
  const r = spawnSync("bash", args, { encoding: "utf8", timeout: 900_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`building the systemd host failed: ${r.stderr.slice(-3000)}`);
  return r.stdout.trim().split("\n").pop() as string;
}

/** Waits until systemd has finished booting (sshd answers before the rest is up). */
async function waitForSystemd(ssh: (command: string) => RunResult): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const state = ssh("systemctl is-system-running --wait 2>/dev/null || true").stdout.trim();
    if (state === "running" || state === "degraded") return;
    if (Date.now() > deadline) throw new Error(`systemd did not finish booting: ${state}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface TestHost {
  /** The host's init: the Upstart stand-in, or real systemd (a booted Debian container). */
  init: "upstart" | "systemd";
  port: number;
  user: string;
  privateKey: string;
  keyFile: string;
  /** Runs a command string as `deploy` over a real SSH session, optionally with stdin. */
  ssh(command: string, stdin?: string, timeoutMs?: number): RunResult;
  /** Runs a bash script as root on the host (through ssh as `admin`, and sudo). */
  root(script: string): RunResult;
  /** Like {@link root}, but fails the test when the script fails; returns its stdout. */
  rootOk(script: string): string;
  /** The main PID of a running service (the Gunicorn master), by the host's init; else undefined. */
  mainPid(job: string): number | undefined;
  /** Where the host's init reads a service's definition. */
  initFile(job: string): string;
  /** The ssh client command line for `spawn`, to interrupt a session mid-way. */
  sshArgv(command: string): string[];
  /** The ssh command line for `spawn` of a root bash reading its script on stdin. */
  rootArgv(): string[];
  stop(): void;
}

export const SSH_OPTIONS = [
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "BatchMode=yes",
  "-o",
  "LogLevel=ERROR",
  "-o",
  "ConnectTimeout=10",
];

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolvePromise, reject) => {
    const attempt = () => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolvePromise();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on ${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/**
 * Starts a test host; `setupScript` (bash, run as root inside it) installs the test's app.
 * `init: "systemd"` boots a Debian container with real systemd instead (test/host/
 * start-systemd-host.sh); both have the same users, key and SSH on 127.0.0.1:<port>.
 */
export async function startTestHost(
  setupScript = "",
  options: { init?: "upstart" | "systemd" } = {},
): Promise<TestHost> {
  const init = options.init ?? "upstart";
  if (process.getuid?.() !== 0) {
    throw new Error("the real-host tests need root (unshare, mount); run them as root or in CI");
  }
  const scratch = mkdtempSync(join(tmpdir(), "test-host-"));
  const keyFile = join(scratch, "client_key");
  const keygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile]);
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
  const setup = join(scratch, "setup.sh");
  writeFileSync(setup, `set -euo pipefail\n${setupScript}\n`);
  const port = await freePort();
  const child: ChildProcess = spawn(
    "unshare",
    [
      "--mount",
      "--pid",
      "--fork",
      "--kill-child=SIGKILL",
      "--mount-proc",
      "--propagation",
      "private",
      "bash",
      ...(init === "systemd"
        ? [START_SYSTEMD_HOST, scratch, String(port), `${keyFile}.pub`, setup, systemdRootfs()]
        : [START_HOST, scratch, String(port), `${keyFile}.pub`, setup]),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  child.stdout?.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    // unshare ignores SIGTERM while it waits; SIGKILL makes the kernel kill the namespace's
    // PID 1 (--kill-child), and with it every process of the namespace.
    child.kill("SIGKILL");
    rmSync(scratch, { recursive: true, force: true });
  };
  process.once("exit", stop);
  try {
    await Promise.race([
      waitForPort(port, 60_000),
      new Promise((_, reject) =>
        child.once("exit", (code) => reject(new Error(`test host exited (${code}):\n${log}`))),
      ),
    ]);
  } catch (e) {
    stop();
    throw e;
  }
  const base = ["-i", keyFile, "-p", String(port), ...SSH_OPTIONS, "-T", "deploy@127.0.0.1"];
  const run = (login: string[], command: string, stdin = "", timeoutMs = 120_000): RunResult => {
    const r = spawnSync("ssh", [...login, command], {
      input: stdin,
      encoding: "utf8",
      timeout: timeoutMs,
      maxBuffer: 64 << 20,
    });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const ssh = (command: string, stdin = "", timeoutMs = 120_000) =>
    run(base, command, stdin, timeoutMs);
  // Root through `admin`, whose sudo no test takes away.
  const admin = [...base.slice(0, -1), "admin@127.0.0.1"];
  const root = (script: string) => run(admin, "sudo -n /bin/bash -s", script);
  if (init === "systemd") await waitForSystemd(ssh);
  return {
    init,
    port,
    user: "deploy",
    privateKey: readFileSync(keyFile, "utf8"),
    keyFile,
    ssh,
    root,
    rootOk(script) {
      const r = root(script);
      if (r.status !== 0)
        throw new Error(`host script failed (${r.status}): ${r.stderr}\n${script}`);
      return r.stdout;
    },
    mainPid(job) {
      if (init === "systemd") {
        const out = root(`systemctl show -p ActiveState -p MainPID ${job}.service`).stdout;
        const pid = Number(/MainPID=(\d+)/.exec(out)?.[1] ?? 0);
        return /ActiveState=active/.test(out) && pid > 0 ? pid : undefined;
      }
      const m = /start\/running, process (\d+)/.exec(root(`initctl status ${job}`).stdout);
      return m ? Number(m[1]) : undefined;
    },
    initFile: (job) =>
      init === "systemd" ? `/etc/systemd/system/${job}.service` : `/etc/init/${job}.conf`,
    sshArgv: (command) => ["ssh", ...base, command],
    rootArgv: () => ["ssh", ...admin, "sudo -n /bin/bash -s"],
    stop,
  };
}

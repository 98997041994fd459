/**
 * The local machine's scripts, pure: a Debian bookworm system booted with `systemd-nspawn`
 * on the machine where `pulumi up` runs, with its own root file system (a copy-on-write
 * overlay of a cached tree), real systemd as PID 1, in a user namespace (its root is an
 * unprivileged UID on this computer), with its own network (slirp4netns: outbound through
 * this computer, no way to this computer's loopback) whose served ports — sshd's and
 * nginx's — are forwarded from 127.0.0.1 here; its SSH host key is made here before it first
 * boots and pinned. It needs root (debootstrap, mounts, systemd-nspawn).
 */
import { hostText, renderHostProgram } from "./hostProgram";
import { checkInt, checkName, SpecError } from "./spec";

/** A local machine. */
export interface LocalMachineSpec {
  /** Its name: letters, digits, `-`; names its directory and the container. */
  name: string;
  /** The port its sshd listens on, in the machine and forwarded from 127.0.0.1 here. */
  sshPort: number;
  /** The other ports it serves (nginx's), each forwarded from 127.0.0.1:<port> here. */
  ports: number[];
  /** Where the machine's own files live (its disk, key, PID): `<stateDir>/<name>`. */
  stateDir: string;
  /** Where the built root file system is cached (shared by every machine). */
  rootfsCache: string;
}

/**
 * nginx's ports on the local machine: forwarded from this computer's loopback, where 80 and 443
 * may be taken (and need root to bind).
 */
export const LOCAL_HTTP_PORTS = { http: 8080, https: 8443 } as const;

export const LOCAL_MACHINE_DEFAULTS = {
  sshPort: 2222,
  /** nginx's ports on the local machine: the stack's defaults. */
  ports: [LOCAL_HTTP_PORTS.http, LOCAL_HTTP_PORTS.https] as readonly number[],
  stateDir: "/var/lib/gunicorn-upstart/machines",
  rootfsCache: "/var/cache/gunicorn-upstart/rootfs",
  /** The user the stack connects as: passwordless sudo, like a cloud image's. */
  user: "deploy",
  /**
   * The first of the 65536 UIDs/GIDs on this computer that the machines' users are (root in
   * a machine is this UID here): in systemd's range for containers, a multiple of 65536.
   */
  uidBase: 0x6f000000,
} as const;

/** Validates a machine's settings; errors name the field. */
export function checkLocalMachine(raw: {
  name: unknown;
  sshPort?: unknown;
  ports?: unknown;
  stateDir?: unknown;
  rootfsCache?: unknown;
}): LocalMachineSpec {
  const name = checkName("name", raw.name);
  if (!/^[a-z0-9][a-z0-9-]{0,50}$/.test(name)) {
    throw new SpecError(
      "name",
      `expected lower-case letters, digits and -, got ${JSON.stringify(name)}`,
    );
  }
  const path = (field: string, value: unknown, fallback: string) => {
    const v = value ?? fallback;
    if (typeof v !== "string" || !/^\/[A-Za-z0-9._/-]+$/.test(v)) {
      throw new SpecError(field, `expected an absolute path, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const sshPort = checkInt("sshPort", raw.sshPort ?? LOCAL_MACHINE_DEFAULTS.sshPort, 1, 65535);
  const rawPorts = raw.ports ?? LOCAL_MACHINE_DEFAULTS.ports;
  if (!Array.isArray(rawPorts)) {
    throw new SpecError(
      "ports",
      `expected a list of port numbers, got ${JSON.stringify(rawPorts)}`,
    );
  }
  const ports = rawPorts.map((p: unknown) => checkInt("ports", p, 1, 65535));
  for (const [i, p] of ports.entries()) {
    if (p === sshPort || ports.indexOf(p) !== i) {
      throw new SpecError(
        "ports",
        `${p} is listed twice (with sshPort ${sshPort}): each port is forwarded once`,
      );
    }
  }
  return {
    name,
    sshPort,
    ports,
    stateDir: path("stateDir", raw.stateDir, LOCAL_MACHINE_DEFAULTS.stateDir),
    rootfsCache: path("rootfsCache", raw.rootfsCache, LOCAL_MACHINE_DEFAULTS.rootfsCache),
  };
}

/**
 * What the local machine needs on this computer: each command, and the Debian package that has
 * it. The one list: the machine's up script checks it, and `npm run up` installs the missing
 * packages before the engine runs (scripts/local-machine-deps.sh).
 */
export const LOCAL_MACHINE_NEEDS: readonly { command: string; debianPackage: string }[] = [
  { command: "debootstrap", debianPackage: "debootstrap" },
  { command: "systemd-nspawn", debianPackage: "systemd-container" },
  { command: "unshare", debianPackage: "util-linux" },
  { command: "ssh-keygen", debianPackage: "openssh-client" },
  { command: "ssh", debianPackage: "openssh-client" },
  // The machine's own network: outbound through this computer, the forwards from its loopback.
  { command: "slirp4netns", debianPackage: "slirp4netns" },
  // To ask slirp4netns (its API is a unix socket) for each forward.
  { command: "socat", debianPackage: "socat" },
];

/**
 * The script the up script writes into the machine's directory and runs as PID 1 of a new PID
 * and mount namespace: components/host/machine-boot.sh (its parameters come on its command line).
 */
export function renderMachineBoot(): string {
  return renderHostProgram("machine-boot.sh");
}

/**
 * The machine's up script: components/host/machine-up.sh, filled from `spec`. It prints the
 * machine's connection as one JSON line: `{"host","port","user","privateKey","hostKey"}`.
 */
export function renderMachineUp(spec: LocalMachineSpec): string {
  return renderHostProgram("machine-up.sh", {
    NAME: spec.name,
    DIR: `${spec.stateDir}/${spec.name}`,
    PORT: spec.sshPort,
    FORWARDS: [spec.sshPort, ...spec.ports].join(" "),
    USER_NAME: LOCAL_MACHINE_DEFAULTS.user,
    UID_BASE: LOCAL_MACHINE_DEFAULTS.uidBase,
    CACHE: spec.rootfsCache,
    NEEDS: LOCAL_MACHINE_NEEDS.map((n) => `${n.command}:${n.debianPackage}`),
    // The builder of the root file system, shared with the systemd test host.
    BUILD_ROOTFS: hostText("build-rootfs.sh"),
    BOOT_SCRIPT: renderMachineBoot(),
  });
}

/** The machine's down script: components/host/machine-down.sh, filled from `spec`. */
export function renderMachineDown(spec: LocalMachineSpec): string {
  return renderHostProgram("machine-down.sh", {
    NAME: spec.name,
    DIR: `${spec.stateDir}/${spec.name}`,
  });
}

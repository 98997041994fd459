import {
  bindsLowPort,
  runsMasterAsRoot,
  SANDBOX_DIRECTIVES,
  type SandboxDirective,
  type ServiceSpec,
} from "./spec";
import { logDirs } from "./launcher";

/** Paths the service may hide under ProtectHome=yes only when none of the app's paths is there. */
const HOME_PREFIXES = ["/home/", "/root/", "/run/user/"];

function appPaths(spec: ServiceSpec): string[] {
  return [
    spec.projectDir,
    spec.virtualenv,
    spec.logFile,
    spec.launcherPath,
    spec.gunicornConfigPath,
    ...(spec.accessLog !== undefined ? [spec.accessLog] : []),
    ...(spec.appRoot !== undefined ? [spec.appRoot] : []),
    ...(spec.chdir !== undefined ? [spec.chdir] : []),
    ...(spec.dataDir !== undefined ? [spec.dataDir] : []),
    ...spec.readWritePaths,
  ];
}

/** The directories the service writes: its logs', its data directory and the ones the user named. */
export function writablePaths(spec: ServiceSpec): string[] {
  const data = spec.dataDir !== undefined ? [spec.dataDir] : [];
  return [...new Set([...logDirs(spec), ...data, ...spec.readWritePaths])];
}

/**
 * The unit lines of the sandbox, `[Service]` settings in the order of {@link
 * SANDBOX_DIRECTIVES}, without those in `relaxSandbox`. Paths were validated (no blanks,
 * quotes or backslashes); a `-` prefix lets the unit start while a directory is missing.
 */
export function renderSandbox(spec: ServiceSpec): string[] {
  const lowPort = bindsLowPort(spec.bind);
  const rootMaster = runsMasterAsRoot(spec);
  const inHome = appPaths(spec).some((p) => HOME_PREFIXES.some((h) => `${p}/`.startsWith(h)));
  const value: Record<SandboxDirective, string[]> = {
    NoNewPrivileges: ["yes"],
    ProtectSystem: ["strict"],
    ProtectHome: [inHome ? "read-only" : "yes"],
    PrivateTmp: ["yes"],
    PrivateDevices: ["yes"],
    ProtectKernelTunables: ["yes"],
    ProtectKernelModules: ["yes"],
    ProtectKernelLogs: ["yes"],
    ProtectControlGroups: ["yes"],
    ProtectClock: ["yes"],
    ProtectHostname: ["yes"],
    ProtectProc: ["invisible"],
    RestrictSUIDSGID: ["yes"],
    RestrictRealtime: ["yes"],
    RestrictNamespaces: ["yes"],
    LockPersonality: ["yes"],
    MemoryDenyWriteExecute: ["yes"],
    RemoveIPC: ["yes"],
    // A root master (setuid "root", asked for explicitly) keeps what it needs to drop workers.
    CapabilityBoundingSet: rootMaster ? [] : [lowPort ? "CAP_NET_BIND_SERVICE" : ""],
    // @system-service is what ordinary daemons call; a master running as the app user needs
    // nothing privileged. A refused call fails with EPERM rather than killing the process:
    // Gunicorn chowns its log file to its own user and ignores the error.
    // Gunicorn up to 20.x calls setuid()/setgid() for its workers even when the user is its own
    // (Debian 12's does): those stay callable, harmless without a capability to change user.
    SystemCallFilter: [
      "@system-service",
      ...(rootMaster ? [] : ["~@privileged @resources", "@setuid @chown"]),
    ],
    SystemCallErrorNumber: ["EPERM"],
    SystemCallArchitectures: ["native"],
    RestrictAddressFamilies: ["AF_UNIX AF_INET AF_INET6"],
    // Loopback and every other address stay open (a proxy may be elsewhere); link-local
    // (instance metadata, where cloud credentials live) and multicast are closed.
    IPAddressDeny: ["169.254.0.0/16 fe80::/10 224.0.0.0/4 ff00::/8"],
    // The unit writes spec.umask itself when set; otherwise logs are not world-readable.
    UMask: spec.umask !== undefined ? [] : ["0027"],
  };
  const lines: string[] = [];
  for (const name of SANDBOX_DIRECTIVES) {
    if (spec.relaxSandbox.includes(name)) continue;
    for (const v of value[name]) lines.push(`${name}=${v}`);
    if (name === "ProtectSystem") {
      lines.push(
        `ReadWritePaths=${writablePaths(spec)
          .map((p) => `-${p}`)
          .join(" ")}`,
      );
    }
  }
  if (lowPort && !rootMaster) {
    // The master runs as the app user and binds the port with this one capability.
    lines.push("AmbientCapabilities=CAP_NET_BIND_SERVICE");
  }
  return lines;
}

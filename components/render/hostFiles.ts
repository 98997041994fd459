import { hooksPath, jobFilePath, type ServiceSpec } from "./spec";
import { renderGunicornConfig } from "./gunicornConfig";
import { renderLauncher } from "./launcher";
import { logrotatePath, renderLogrotate } from "./logrotate";
import { manageCommandPath, renderManageCommand } from "./manageCommand";
import { logsCommandPath, renderLogsCommand } from "./logsCommand";
import type { FileTarget } from "./remoteScripts";
import { renderSystemdUnit } from "./systemdUnit";
import { renderUpstartJob } from "./upstartJob";
import { hostText } from "./hostProgram";
import { HOOKS_MODULE } from "./warmReload";

/** The files a service puts on the host, by role (also the suffix of their resources' names). */
export type HostFileRole =
  "job" | "launcher" | "hooks" | "config" | "logrotate" | "manage" | "logs";

/**
 * One host file, declared once: where it goes with what ownership, how it is rendered, how it
 * is deleted, and how the helper (`sudo: helper`) treats the deploy user's content for it. The
 * component, the helper and the offline render all take the files from {@link HOST_FILES}.
 */
export interface HostFile {
  role: HostFileRole;
  /** Path, owner, group and mode on the host. */
  target(spec: ServiceSpec): FileTarget;
  /** The content; only a file with `appEnv` sees the app environment (which may be secret). */
  render(spec: ServiceSpec, appEnv: Record<string, string>): string;
  /** Holds the app environment: readable by root and the app group only, secret in the state. */
  appEnv: boolean;
  /** The boolean setting that decides whether the service has this file at all. */
  presentWith?: "logrotate" | "manageCommand";
  /** Python caches its bytecode (Gunicorn imports it): a delete removes the cache too. */
  pythonCache: boolean;
  /** A write or delete is followed by `systemctl daemon-reload`. */
  systemdReload(spec: ServiceSpec): boolean;
  /**
   * With `sudo: helper`: `fixed` when root runs what the file says (the init runs the job, the
   * unit; logrotate runs the rule's postrotate), so the helper accepts only the content
   * rendered at its install; `deploy` when the deploy user may change it (root-owned, run only
   * as the app user).
   */
  helper: "fixed" | "deploy";
}

const rootFile = (path: string, mode: string): FileTarget => ({
  path,
  owner: "root",
  group: "root",
  mode,
});

/**
 * The host files. Job and launcher are root's and not writable by the app user (the init runs
 * the launcher, as root when the master is). The Gunicorn config can hold app secrets: readable
 * by root and the app's group only.
 */
export const HOST_FILES: readonly HostFile[] = [
  {
    // The Upstart job or the systemd unit, by `init`.
    role: "job",
    target: (s) => rootFile(jobFilePath(s.job, s.init), "0644"),
    render: (s) => (s.init === "systemd" ? renderSystemdUnit(s) : renderUpstartJob(s)),
    appEnv: false,
    pythonCache: false,
    systemdReload: (s) => s.init === "systemd",
    helper: "fixed",
  },
  {
    role: "launcher",
    target: (s) => rootFile(s.launcherPath, "0755"),
    render: renderLauncher,
    appEnv: false,
    pythonCache: false,
    systemdReload: () => false,
    helper: "deploy",
  },
  {
    // The server hooks' module, which the config runs: root's, and like the job fixed by hash
    // under `sudo: helper` (a root master runs it).
    role: "hooks",
    target: (s) => rootFile(hooksPath(s), "0644"),
    render: () => hostText(HOOKS_MODULE),
    appEnv: false,
    pythonCache: false,
    systemdReload: () => false,
    helper: "fixed",
  },
  {
    role: "config",
    target: (s) => ({ path: s.gunicornConfigPath, owner: "root", group: s.group, mode: "0640" }),
    render: renderGunicornConfig,
    appEnv: true,
    pythonCache: true,
    systemdReload: () => false,
    helper: "deploy",
  },
  {
    role: "logrotate",
    target: (s) => rootFile(logrotatePath(s), "0644"),
    render: renderLogrotate,
    appEnv: false,
    presentWith: "logrotate",
    pythonCache: false,
    systemdReload: () => false,
    helper: "fixed",
  },
  {
    // Root runs its first lines (then drops to the app user): fixed, like the job.
    role: "manage",
    target: (s) => rootFile(manageCommandPath(s), "0755"),
    render: renderManageCommand,
    appEnv: false,
    presentWith: "manageCommand",
    pythonCache: false,
    systemdReload: () => false,
    helper: "fixed",
  },
  {
    // `<job>-logs`: root runs it (sudo <job>-logs) and it reads what root may: fixed.
    role: "logs",
    target: (s) => rootFile(logsCommandPath(s), "0755"),
    render: renderLogsCommand,
    appEnv: false,
    pythonCache: false,
    systemdReload: () => false,
    helper: "fixed",
  },
];

/** One file the service puts on the host, with its ownership. */
export interface RenderedFile extends FileTarget {
  content: string;
}

/** Whether the service has this file (per {@link HostFile.presentWith}). */
export function hasHostFile(spec: ServiceSpec, file: HostFile): boolean {
  return file.presentWith === undefined || spec[file.presentWith];
}

/** The files of a service that it has, rendered. */
export function renderHostFiles(
  spec: ServiceSpec,
  appEnv: Record<string, string>,
): (RenderedFile & { role: HostFileRole })[] {
  return HOST_FILES.filter((f) => hasHostFile(spec, f)).map((f) => ({
    role: f.role,
    ...f.target(spec),
    content: f.render(spec, appEnv),
  }));
}

/**
 * The files every service has; `job` is the Upstart job or the systemd unit, `hooks` the server
 * hooks' module the Gunicorn config runs.
 */
export interface RenderedService {
  job: RenderedFile;
  launcher: RenderedFile;
  hooks: RenderedFile;
  gunicornConfig: RenderedFile;
}

/** Renders the job, the launcher, the hooks and the Gunicorn config with their ownership. */
export function renderServiceFiles(
  spec: ServiceSpec,
  appEnv: Record<string, string>,
): RenderedService {
  const file = (role: HostFileRole): RenderedFile => {
    const f = HOST_FILES.find((h) => h.role === role) as HostFile;
    return { ...f.target(spec), content: f.render(spec, appEnv) };
  };
  return {
    job: file("job"),
    launcher: file("launcher"),
    hooks: file("hooks"),
    gunicornConfig: file("config"),
  };
}

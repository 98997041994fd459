/**
 * The service spec: the settings of the settings table (components/render/settings.ts) resolved —
 * defaults applied, each value checked — plus the rules that tie settings together. Pure: no
 * Pulumi here, so `pulumi up`, the offline render and the tests share exactly this code.
 */
import { SpecError, parseBind, show } from "./checks";
import {
  SETTINGS,
  SETTING_NAMES,
  type Init,
  type ProcessOptions,
  type ResolvedSettings,
  type ScheduleOptions,
  type Setting,
} from "./settings";

export {
  SpecError,
  checkEnv,
  checkInt,
  checkMode,
  checkName,
  checkPath,
  bindsLowPort,
  parseBind,
  parseEnvList,
  GATE_STABLE_SECONDS,
  type BindAddress,
} from "./checks";
export {
  CONSOLE_MODES,
  INITS,
  INVOCATIONS,
  KILL_TIMEOUT_MARGIN,
  LOG_LEVELS,
  SANDBOX_DIRECTIVES,
  STOP_RUNLEVELS,
  SUDO_MODES,
  type ConsoleMode,
  type Init,
  type Invocation,
  type LogLevel,
  type SandboxDirective,
  type StopRunlevels,
  type SudoMode,
} from "./settings";

/** The settings of one Gunicorn service, fully resolved (defaults applied, validated). */
export type ServiceSpec = ResolvedSettings;

/** The raw, user-facing settings: every field optional, defaults applied by {@link normalizeSpec}. */
export type ServiceSettings = {
  [K in Exclude<keyof ServiceSpec, "workers" | "processes" | "schedules">]?:
    ServiceSpec[K] | undefined;
} & {
  /** Scheduled jobs: their command and schedule. */
  schedules?: Record<string, ScheduleOptions> | undefined;
  /** Processes beside the web: a command line each, or its options. */
  processes?: Record<string, string | ProcessOptions> | undefined;
  /** Deploy the app as releases (`appRoot` then defaults to `/srv/<job>`). */
  releases?: boolean | undefined;
  /** Worker count; text such as "4" (from config) is accepted too. */
  workers?: number | string | undefined;
};

/** The plain (not derived) defaults of the settings table: the recipe's values. */
export const DEFAULTS: Readonly<Partial<ServiceSpec>> = Object.fromEntries(
  SETTING_NAMES.flatMap((name) => {
    const d = (SETTINGS[name] as Setting<unknown>).default;
    return d === undefined || typeof d === "function" ? [] : [[name, d]];
  }),
);

/**
 * The app environment the service gets: `appEnv`, plus the variables settings set (`env` in
 * their row, e.g. STATIC_ROOT from staticRoot). A name both set is refused: the setting's value
 * is the one the release tasks use, so a second one would split the app from them.
 */
export function appEnvironment(
  spec: ServiceSpec,
  appEnv: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = { ...appEnv };
  for (const name of SETTING_NAMES) {
    const row = SETTINGS[name] as Setting<unknown>;
    const value = (spec as Record<string, unknown>)[name];
    if (row.env === undefined || value === undefined) continue;
    if (row.env in appEnv) {
      throw new SpecError(
        `appEnv.${row.env}`,
        `is set from the setting '${name}' (${show(value)}); set '${name}' instead`,
      );
    }
    env[row.env] = String(value);
  }
  return env;
}

/** The job file (Upstart) or unit file (systemd) of a job. */
/**
 * Whether the Gunicorn master runs as root: no `setuid` (Upstart with a port below 1024, where
 * only root can bind it) or `setuid: root`. Such a master opens, appends to and `chown`s its log
 * files (following links, at every start and reopen), so every path it opens must be root's alone.
 */
export function runsMasterAsRoot(spec: Pick<ServiceSpec, "setuid">): boolean {
  return spec.setuid === undefined || spec.setuid === "root";
}

export function jobFilePath(job: string, init: Init = "upstart"): string {
  return init === "systemd" ? `/etc/systemd/system/${job}.service` : `/etc/init/${job}.conf`;
}

/**
 * The server hooks' module on the host (components/host/gunicorn_upstart_hooks.py): beside the
 * Gunicorn config, which runs it, named for the job.
 */
export function hooksPath(spec: Pick<ServiceSpec, "gunicornConfigPath" | "job">): string {
  const dir = spec.gunicornConfigPath.slice(0, spec.gunicornConfigPath.lastIndexOf("/")) || "/";
  return `${dir === "/" ? "" : dir}/${spec.job}.hooks.py`;
}

/**
 * `sudo: "helper"` gives the SSH user only the job's helper; host preparation and the
 * virtualenv build need root for apt-get, useradd and pip, so they cannot run with it.
 */
export function checkSudoFor(spec: ServiceSpec, needsRoot: string[]): void {
  if (spec.sudo === "helper" && needsRoot.length > 0) {
    throw new SpecError(
      "sudo",
      `"helper" cannot run ${needsRoot.join(" and ")}: they install packages, add users and build the virtualenv as root; prepare the host once with sudo "all" (or by hand), then switch`,
    );
  }
}

/**
 * Applies defaults and validates every setting, in the settings table's order (a derived
 * default sees the settings before it), then the rules between settings. Throws
 * {@link SpecError} naming the first bad field. Pure and deterministic.
 */
export function normalizeSpec(s: ServiceSettings): ServiceSpec {
  const raw = s as Readonly<Record<string, unknown>>;
  const resolved: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    const row = SETTINGS[name] as Setting<unknown>;
    let value = raw[name];
    if (value === undefined && row.default !== undefined) {
      value = typeof row.default === "function" ? row.default({ resolved, raw }) : row.default;
    }
    if (value !== undefined) resolved[name] = row.check(name, value);
  }
  const spec = resolved as ServiceSpec;
  // With releases, the project is whatever `current` points at.
  if (spec.appRoot !== undefined && raw.projectDir !== undefined) {
    const releaseDir = `${spec.appRoot}/current`;
    if (raw.projectDir !== releaseDir) {
      throw new SpecError(
        "projectDir",
        `with app releases the project is ${show(releaseDir)} (<appRoot>/current); leave projectDir unset`,
      );
    }
  }
  if (spec.logrotate) {
    for (const [field, path] of [
      ["logFile", spec.logFile],
      ["accessLog", spec.accessLog],
    ] as const) {
      if (path !== undefined && /[\s"'\\{}#]/.test(path)) {
        throw new SpecError(
          field,
          `${show(path)} cannot go into a logrotate rule (no blanks, quotes, braces or '#'); set logrotate to false to keep it`,
        );
      }
    }
  }
  if (spec.nginx) checkNginxSpec(spec);
  if (spec.init === "systemd") checkSystemdSpec(spec);
  if (spec.sudo === "helper" && runsMasterAsRoot(spec)) {
    // The helper lets the SSH user write the job file; only a job that drops to a non-root
    // user keeps that from being root for everything.
    throw new SpecError(
      "setuid",
      `sudo "helper" needs setuid set to the app's (non-root) user, so that nothing the deploy user writes runs as root; got ${show(spec.setuid)}`,
    );
  }
  if (spec.sudo === "helper") {
    // Processes and scheduled jobs run as the app user, their launchers and runners are the
    // deploy user's to change: as root, that would be root for the deploy user.
    for (const field of ["user", "group"] as const) {
      if (spec[field] === "root") {
        throw new SpecError(
          field,
          'sudo "helper" needs the app\'s own (non-root) user and group: what the deploy user may change runs as them',
        );
      }
    }
  }
  checkBesideTheWeb(spec);
  // The hooks' module first: its path follows the config's, so a clash names the user's field.
  const paths: [string, string][] = [
    ["the server hooks' module (beside gunicornConfigPath)", hooksPath(spec)],
    ["launcherPath", spec.launcherPath],
    ["gunicornConfigPath", spec.gunicornConfigPath],
    ["logFile", spec.logFile],
  ];
  if (spec.accessLog !== undefined) paths.push(["accessLog", spec.accessLog]);
  for (const [i, [fa, pa]] of paths.entries()) {
    for (const [fb, pb] of paths.slice(i + 1)) {
      if (pa === pb) {
        throw new SpecError(
          fb,
          `${show(pb)} is also used for '${fa}'; each file needs its own path`,
        );
      }
    }
  }
  return spec;
}

/** Processes, scheduled jobs and the data directory, against each other and the rest. */
function checkBesideTheWeb(spec: ServiceSpec): void {
  for (const name of Object.keys(spec.schedules)) {
    if (name in spec.processes) {
      // Both would be <job>-<name>: one launcher, and under systemd one unit.
      throw new SpecError(
        "schedules",
        `${show(name)} is a process's name too; each needs its own (both are <job>-<name> on the host)`,
      );
    }
  }
  if (Object.keys(spec.schedules).length > 0 && spec.launcherPath.includes("%")) {
    // cron reads a % in a command as the end of the command.
    throw new SpecError(
      "launcherPath",
      `${show(spec.launcherPath)}: with schedules its directory goes into cron entries, which end a command at '%'`,
    );
  }
  if (spec.dataDir === undefined) return;
  const dirOf = (p: string) => p.slice(0, p.lastIndexOf("/")) || "/";
  const rootDirs: [string, string][] = [
    ["stateDir", spec.stateDir],
    ["launcherPath's directory", dirOf(spec.launcherPath)],
    ["gunicornConfigPath's directory", dirOf(spec.gunicornConfigPath)],
    ...(spec.appRoot !== undefined ? ([["appRoot", spec.appRoot]] as [string, string][]) : []),
  ];
  const within = (a: string, b: string) => a === b || a.startsWith(`${b}/`) || b === "/";
  for (const [field, dir] of rootDirs) {
    if (within(spec.dataDir, dir) || within(dir, spec.dataDir)) {
      throw new SpecError(
        "dataDir",
        `${show(spec.dataDir)} overlaps ${field} (${show(dir)}), which is root's; the app's data needs a directory of its own, e.g. /var/lib/${spec.job}`,
      );
    }
  }
}

/** What nginx cannot be given, or would clash with, is refused before anything runs. */
function checkNginxSpec(spec: ServiceSpec): void {
  if (spec.sudo === "helper") {
    // nginx's master runs as root and reads its sites as instructions: under the helper the
    // site would have to be fixed at install time like the job file, which is not built yet.
    throw new SpecError(
      "nginx",
      'not available with sudo "helper" yet: nginx runs its sites as root; install the site yourself (npm run render writes it) or deploy with sudo "all"',
    );
  }
  if (spec.nginxMountOn !== undefined) {
    if (spec.urlPrefix === undefined) {
      throw new SpecError(
        "urlPrefix",
        `is needed with nginxMountOn ${show(spec.nginxMountOn)}: the path this app is served under in that site, e.g. /blog`,
      );
    }
    if (spec.nginxMountOn === spec.job) {
      throw new SpecError("nginxMountOn", `${show(spec.job)} is this service's own job`);
    }
  }
  if (spec.maintenance && spec.healthCheckPath.split("?")[0] === "/") {
    // The health check stays served in maintenance: at "/", so would the home page.
    throw new SpecError(
      "maintenance",
      'needs a healthCheckPath other than "/" (e.g. "/health"): in maintenance every path answers 503 but the health check',
    );
  }
  const paths: [string, string | undefined][] = [
    ["staticRoot", spec.staticRoot],
    ["mediaRoot", spec.mediaRoot],
    ["tlsCertificateFile", spec.tlsCertificateFile],
    ["tlsKeyFile", spec.tlsKeyFile],
    ["maintenancePage", spec.maintenancePage],
  ];
  for (const [field, path] of paths) {
    // nginx expands variables even in quoted strings.
    if (path !== undefined && /[$]/.test(path)) {
      throw new SpecError(field, `${show(path)} cannot go into an nginx site (no '$')`);
    }
  }
  const bind = parseBind("bind", spec.bind);
  const ports = spec.tls === "off" ? [spec.httpPort] : [spec.httpPort, spec.httpsPort];
  if (spec.tls !== "off" && spec.httpPort === spec.httpsPort) {
    throw new SpecError(
      "httpsPort",
      `${spec.httpsPort} is httpPort too; HTTP and HTTPS need a port each`,
    );
  }
  if (bind.kind === "tcp" && ports.includes(bind.port)) {
    throw new SpecError(
      "bind",
      `${show(spec.bind)}: Gunicorn and nginx cannot share port ${bind.port}; bind Gunicorn to another port (e.g. 127.0.0.1:8000)`,
    );
  }
}

/** What has no systemd meaning is refused rather than silently dropped. */
function checkSystemdSpec(spec: ServiceSpec): void {
  if (spec.console === "output" || spec.console === "owner") {
    throw new SpecError(
      "console",
      `"${spec.console}" (a terminal) has no systemd equivalent; use "log" (the journal) or "none"`,
    );
  }
  if (systemdTarget(spec.startOnRunlevels) === undefined) {
    throw new SpecError(
      "startOnRunlevels",
      `${show(spec.startOnRunlevels)} has no systemd target; with init "systemd" use a set of runlevels from 2 to 5 (multi-user.target) or [5] (graphical.target)`,
    );
  }
}

/** The systemd target that stands for a `start on runlevel` set (runlevels 2-4 are multi-user). */
export function systemdTarget(runlevels: string): string | undefined {
  const m = /^\[([0-6Ss]+)\]$/.exec(runlevels);
  if (!m || !/^[2-5]+$/.test(m[1] as string)) return undefined;
  return m[1] === "5" ? "graphical.target" : "multi-user.target";
}

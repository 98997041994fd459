// Matching control characters is the point of several checks here.
/* eslint-disable no-control-regex */

/**
 * The service spec: every setting of the Upstart job, the bash launcher and the Gunicorn
 * config, with their defaults in one place and one validation function. Pure: no Pulumi here,
 * so `pulumi up`, the offline render and the tests share exactly this code.
 */

/** Log levels Gunicorn accepts for `--log-level`. */
export const LOG_LEVELS = ["debug", "info", "warning", "error", "critical"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How the launcher starts Gunicorn. */
export const INVOCATIONS = ["wsgi", "django-manage"] as const;
/**
 * `wsgi`: `gunicorn <module>:<callable>` (Gunicorn 19+, any WSGI app).
 * `django-manage`: `python manage.py run_gunicorn`, the recipe's form, for Django < 1.8 with
 * the old `gunicorn` Django app installed (Gunicorn removed the command in 19.x).
 */
export type Invocation = (typeof INVOCATIONS)[number];

/** Runlevel sets for `stop on runlevel`: the recipe's "halted or rebooted", or also single-user. */
export const STOP_RUNLEVELS = ["[06]", "[!2345]"] as const;
export type StopRunlevels = (typeof STOP_RUNLEVELS)[number];

/**
 * How the SSH user gets root on the host: `all` runs each generated script with
 * `sudo /bin/bash -c` (the user needs passwordless sudo for everything); `helper` runs only
 * `/usr/local/sbin/gunicorn-upstart-<job>`, a root-owned program installed once by an admin
 * (rendered by `npm run render`), allowed by a sudoers rule naming only it.
 */
export const SUDO_MODES = ["all", "helper"] as const;
export type SudoMode = (typeof SUDO_MODES)[number];

/**
 * The init system that runs the service: Upstart (the recipe's, Ubuntu up to 14.04) or systemd
 * (every current distribution). The same spec renders an Upstart job or a systemd unit with
 * the same meaning; the lifecycle uses `initctl` or `systemctl`.
 */
export const INITS = ["upstart", "systemd"] as const;
export type Init = (typeof INITS)[number];

/** Upstart `console` modes we render. */
export const CONSOLE_MODES = ["log", "none", "output", "owner"] as const;
export type ConsoleMode = (typeof CONSOLE_MODES)[number];

/** Signals Upstart accepts by name in `reload signal`, `kill signal` and `normal exit`. */
export const SIGNALS = [
  "HUP",
  "INT",
  "QUIT",
  "KILL",
  "USR1",
  "USR2",
  "TERM",
  "WINCH",
  "TTIN",
  "TTOU",
] as const;

/**
 * The sandbox of the systemd unit: what a Gunicorn app needs (read its code and virtualenv,
 * write its logs and the paths named in `readWritePaths`, TCP and unix sockets, fork workers)
 * and nothing else. Each directive is named here once, with why a Gunicorn app tolerates it;
 * `relaxSandbox` lists the names to leave out when an app needs more (e.g.
 * `MemoryDenyWriteExecute` for a JIT, `PrivateDevices` for a GPU). Measured with
 * `systemd-analyze security --offline=yes` by test/render/systemdUnit.test.ts; rendered by
 * components/render/systemdSandbox.ts.
 */
export const SANDBOX_DIRECTIVES = [
  // No setuid program or file capability can raise the service's privileges.
  "NoNewPrivileges",
  // The whole file system is read-only but for the log directory and readWritePaths.
  "ProtectSystem",
  // /home, /root and /run/user are hidden, or read-only when the app's paths are there.
  "ProtectHome",
  "PrivateTmp",
  "PrivateDevices",
  "ProtectKernelTunables",
  "ProtectKernelModules",
  "ProtectKernelLogs",
  "ProtectControlGroups",
  "ProtectClock",
  "ProtectHostname",
  "ProtectProc",
  "RestrictSUIDSGID",
  "RestrictRealtime",
  "RestrictNamespaces",
  "LockPersonality",
  "MemoryDenyWriteExecute",
  "RemoveIPC",
  // No capability at all, or only binding a port below 1024.
  "CapabilityBoundingSet",
  "SystemCallFilter",
  "SystemCallErrorNumber",
  "SystemCallArchitectures",
  "RestrictAddressFamilies",
  "IPAddressDeny",
  "UMask",
] as const;
export type SandboxDirective = (typeof SANDBOX_DIRECTIVES)[number];

/** The settings of one Gunicorn service, fully resolved (defaults applied, validated). */
export interface ServiceSpec {
  /** Upstart job name; the job file is `/etc/init/<job>.conf`. */
  job: string;
  /** Human readable `description` stanza. */
  description: string;
  /** Runlevels of `start on runlevel`. */
  startOnRunlevels: string;
  /** Runlevels of `stop on runlevel`. */
  stopOnRunlevels: StopRunlevels;
  /** Whether Upstart restarts the job when it ends unexpectedly. */
  respawn: boolean;
  /** Stop respawning after this many respawns ... */
  respawnLimitCount: number;
  /** ... within this many seconds. */
  respawnLimitInterval: number;
  /** Absolute path of the bash launcher the job `exec`s. */
  launcherPath: string;
  /** Absolute path of the Gunicorn config file (Python) passed with `-c`. */
  gunicornConfigPath: string;
  /** Directory Upstart keeps the state of applied changes in (hashes, for reload decisions). */
  stateDir: string;
  /** The app's directory (where `manage.py` is); the launcher `cd`s here. */
  projectDir: string;
  /** The virtualenv the launcher activates. */
  virtualenv: string;
  /** Gunicorn's log file; its directory is created when missing. */
  logFile: string;
  /** User the Gunicorn workers run as. */
  user: string;
  /** Group the Gunicorn workers run as. */
  group: string;
  /** WSGI application, `module.path:callable`. */
  wsgiApp: string;
  /** How Gunicorn is started. */
  invocation: Invocation;
  /** Extra arguments for Gunicorn, each passed as one quoted word. */
  extraArgs: string[];
  /** Number of worker processes. */
  /** Number of worker processes, or "auto": 2 x CPUs + 1, computed on the host. */
  workers: number | "auto";
  /** Bind address: `HOST:PORT`, `[IPV6]:PORT` or `unix:/path`. */
  bind: string;
  /** Gunicorn log level. */
  logLevel: LogLevel;
  /** Seconds a silent worker may take before it is killed and restarted. */
  timeout: number;
  /** Seconds workers get to finish requests on reload or stop. */
  gracefulTimeout: number;
  /** Restart a worker after this many requests (0: never). */
  maxRequests: number;
  /** Random extra requests added to `maxRequests` per worker. */
  maxRequestsJitter: number;
  /** Environment for the Upstart job itself (`env` stanzas); not for secrets. */
  jobEnv: Record<string, string>;
  /** Gunicorn's access log (unset: none, Gunicorn's default). */
  accessLog?: string;
  /** Write a logrotate rule for the logs (USR1 makes Gunicorn reopen them). */
  logrotate: boolean;
  /** `chdir` stanza (unset: Upstart's default, `/`). */
  chdir?: string;
  /** `umask` stanza, octal (unset: Upstart's default, 022). */
  umask?: string;
  /** `limit nofile SOFT HARD` stanza. */
  nofile?: { soft: number; hard: number };
  /** `kill timeout` / `TimeoutStopSec` in seconds (default: gracefulTimeout + 5). */
  killTimeout?: number;
  /** `console` stanza (unset: Upstart's default, `log` on 1.4+). */
  console?: ConsoleMode;
  /** `normal exit` stanza: exit codes and signal names that do not trigger a respawn. */
  normalExit: string[];
  /**
   * `setuid` stanza / `User=`: run the whole job, master included, as this user. Default: the
   * app user, except under Upstart with a port below 1024 (then unset: a root master binds it).
   */
  setuid?: string;
  /** `setgid` stanza / `Group=`. Default: the app group whenever setuid is defaulted. */
  setgid?: string;
  /** `reload signal` stanza (Upstart 1.10+; unset: HUP). */
  reloadSignal?: string;
  /** Seconds the health gate waits for Gunicorn to serve after a start, restart or reload. */
  startTimeout: number;
  /** HTTP path the health gate requests on the bind address. */
  healthCheckPath: string;
  /** The health gate passes on any HTTP status below this (2xx and 3xx by default). */
  healthyStatusBelow: number;
  /** Host header of the health request (Django answers 400 to a host not in ALLOWED_HOSTS). */
  healthCheckHost?: string;
  /** With app releases: where `releases/<id>` and the `current` symlink live. */
  appRoot?: string;
  /** With app releases: how many releases to keep on the host (the current one always stays). */
  keepReleases: number;
  /** How the SSH user runs commands as root: any script, or only the job's helper. */
  sudo: SudoMode;
  /** The init system: an Upstart job or a systemd unit. */
  init: Init;
  /** systemd: sandbox directives left out of the unit (see SANDBOX_DIRECTIVES). */
  relaxSandbox: SandboxDirective[];
  /** systemd: directories the app writes besides its logs (ProtectSystem=strict hides the rest). */
  readWritePaths: string[];
}

/**
 * The recipe's values (`/etc/init/django-project.conf` and `run-project.sh` of the
 * Django Gunicorn fabfile project) as defaults, so that a bare config reproduces the recipe.
 * Deviations, each on purpose: `logLevel` is `info` (the recipe's `debug` logs every request
 * detail in production) and `wsgiApp`/`invocation` use the modern `gunicorn module:app` form,
 * since `manage.py run_gunicorn` no longer exists in Gunicorn 19+.
 */
export const DEFAULTS = {
  job: "django-project",
  description: "Django Project",
  startOnRunlevels: "[2345]",
  stopOnRunlevels: "[06]" as StopRunlevels,
  respawn: true,
  respawnLimitCount: 10,
  respawnLimitInterval: 5,
  projectDir: "/home/user/django-project",
  virtualenv: "/home/user/.virtualenvs/django-project",
  logFile: "/home/user/logs/django-project-gunicorn.log",
  user: "user",
  group: "user",
  wsgiApp: "mysite.wsgi:application",
  invocation: "wsgi" as Invocation,
  workers: 3,
  bind: "127.0.0.1:8000",
  logLevel: "info" as LogLevel,
  timeout: 30,
  gracefulTimeout: 30,
  maxRequests: 0,
  maxRequestsJitter: 0,
  stateDir: "/var/lib/gunicorn-upstart",
  startTimeout: 30,
  healthCheckPath: "/",
  healthyStatusBelow: 400,
  keepReleases: 5,
  logrotate: true,
  sudo: "all" as SudoMode,
  init: "upstart" as Init,
} as const;

/**
 * Where a file goes when its path is not given: derived from the job name. The launcher runs
 * at every start (as root when the master is), so it lives in a directory only root can
 * change, never in the project or a release, which belong to the app.
 */
export function defaultLauncherPath(job: string): string {
  return `/usr/local/lib/gunicorn-upstart/run-${job}.sh`;
}
export function defaultGunicornConfigPath(job: string): string {
  return `/etc/gunicorn/${job}.conf.py`;
}
export function jobFilePath(job: string, init: Init = "upstart"): string {
  return init === "systemd" ? `/etc/systemd/system/${job}.service` : `/etc/init/${job}.conf`;
}

/** The raw, user-facing settings: every field optional, defaults applied by {@link normalizeSpec}. */
export type ServiceSettings = {
  [K in Exclude<keyof ServiceSpec, "workers">]?: ServiceSpec[K] | undefined;
} & {
  /** Deploy the app as releases (`appRoot` then defaults to `/srv/<job>`). */
  releases?: boolean | undefined;
  /** Worker count; text such as "4" (from config) is accepted too. */
  workers?: number | string | undefined;
};

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

/** A setting the user got wrong. `field` is the user-facing name, shown in the message. */
export class SpecError extends Error {
  constructor(
    public readonly field: string,
    message: string,
  ) {
    super(`invalid '${field}': ${message}`);
    this.name = "SpecError";
  }
}

const JOB_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// Debian's default NAME_REGEX for adduser, which also covers Ubuntu and most distributions.
const NAME_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const WSGI_RE =
  /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)?$/;
const CONTROL_RE = /[\x00-\x1f\x7f]/;

function show(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** An absolute, normalised path without control characters; spaces are fine (we quote). */
export function checkPath(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new SpecError(field, `expected an absolute path, got ${show(value)}`);
  }
  if (!value.startsWith("/")) {
    throw new SpecError(field, `${show(value)} is not absolute; paths must start with '/'`);
  }
  if (CONTROL_RE.test(value)) {
    throw new SpecError(field, "paths may not contain newlines, NUL or other control characters");
  }
  if (value.length > 1024) {
    throw new SpecError(field, "paths may be at most 1024 characters long");
  }
  const parts = value.split("/");
  if (parts.some((p) => p === "." || p === "..")) {
    throw new SpecError(field, `${show(value)} contains '.' or '..'; give the normalised path`);
  }
  if (value === "/" || value.endsWith("/")) {
    throw new SpecError(field, `${show(value)} must name a file or directory, not end in '/'`);
  }
  return value;
}

/**
 * A path that lands in an Upstart stanza (`exec`, `chdir`). Upstart splits these on blanks,
 * and an `exec` line with any of its shell characters runs through `/bin/sh -c`, whose PID
 * would then be the one Upstart signals; so only plain path characters are allowed.
 */
function checkStanzaPath(field: string, value: unknown, hint = ""): string {
  const path = checkPath(field, value);
  if (!/^[A-Za-z0-9_./+,:@%-]+$/.test(path)) {
    throw new SpecError(
      field,
      `${show(path)} is used in the job file, where only letters, digits and _ . / + , : @ % - are allowed${hint}`,
    );
  }
  return path;
}

export function checkInt(field: string, value: unknown, min: number, max: number): number {
  const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new SpecError(field, `expected a whole number from ${min} to ${max}, got ${show(value)}`);
  }
  return n;
}

function checkOneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new SpecError(field, `expected one of ${allowed.join(", ")}, got ${show(value)}`);
  }
  return value as T;
}

export function checkName(field: string, value: unknown): string {
  if (typeof value !== "string" || !NAME_RE.test(value)) {
    throw new SpecError(
      field,
      `${show(value)} is not a valid user or group name (lowercase letters, digits, '_' and '-', starting with a letter or '_', at most 32)`,
    );
  }
  return value;
}

export function checkJob(field: string, value: unknown): string {
  if (typeof value !== "string" || !JOB_RE.test(value) || value.endsWith(".conf")) {
    throw new SpecError(
      field,
      `${show(value)} is not a valid Upstart job name (letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64, without '.conf')`,
    );
  }
  return value;
}

function checkSignal(field: string, value: unknown): string {
  const name = typeof value === "string" ? value.replace(/^SIG/, "") : value;
  return checkOneOf(field, name, SIGNALS);
}

/** A parsed bind address. */
export type BindAddress =
  { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

/** Parses `HOST:PORT`, `[IPV6]:PORT` or `unix:/path`, the forms Gunicorn's `--bind` accepts. */
export function parseBind(field: string, value: unknown): BindAddress {
  if (typeof value !== "string") {
    throw new SpecError(field, `expected HOST:PORT or unix:/path, got ${show(value)}`);
  }
  if (value.startsWith("unix:")) {
    return { kind: "unix", path: checkStanzaPath(field, value.slice("unix:".length)) };
  }
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (!m) {
    throw new SpecError(
      field,
      `${show(value)} is not HOST:PORT, [IPV6]:PORT or unix:/path (e.g. 127.0.0.1:8000)`,
    );
  }
  const host = m[1] as string;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) {
    throw new SpecError(field, `port ${port} is out of range; ports run from 1 to 65535`);
  }
  if (/^\d+(\.\d+){3}$/.test(host) && host.split(".").some((o) => Number(o) > 255)) {
    throw new SpecError(field, `${show(host)} is not a valid IPv4 address`);
  }
  return { kind: "tcp", host, port };
}

/** Checks env names and values; `strict` values must also survive Upstart's `env` stanza. */
export function checkEnv(field: string, value: unknown, strict: boolean): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new SpecError(field, `expected a map of NAME to value, got ${show(value)}`);
  }
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (!ENV_NAME_RE.test(key)) {
      throw new SpecError(
        field,
        `${show(key)} is not a valid environment variable name (letters, digits and '_', not starting with a digit)`,
      );
    }
    if (typeof raw !== "string") {
      throw new SpecError(`${field}.${key}`, "expected a string value");
    }
    if (raw.includes("\0")) {
      throw new SpecError(`${field}.${key}`, "environment values may not contain NUL");
    }
    if (strict && /[\x00-\x1f\x7f"\\$`]/.test(raw)) {
      throw new SpecError(
        `${field}.${key}`,
        "job environment values may not contain control characters, quotes, '\\', '$' or '`'; put such values in the app environment",
      );
    }
    out[key] = raw;
  }
  return out;
}

/** Parses `KEY=VALUE` strings (the stack config's list form) into a map. */
export function parseEnvList(field: string, value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!Array.isArray(value)) {
    throw new SpecError(field, `expected a list of "NAME=value" strings, got ${show(value)}`);
  }
  const out: Record<string, string> = {};
  for (const item of value) {
    const eq = typeof item === "string" ? item.indexOf("=") : -1;
    if (typeof item !== "string" || eq <= 0) {
      throw new SpecError(field, `expected "NAME=value", got ${show(item)}`);
    }
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return checkEnv(field, out, false);
}

function checkText(field: string, value: unknown, max: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw new SpecError(field, `expected text of 1 to ${max} characters, got ${show(value)}`);
  }
  if (/[\x00-\x1f\x7f"\\]/.test(value)) {
    throw new SpecError(field, "may not contain newlines, control characters, '\"' or '\\'");
  }
  return value;
}

/**
 * Applies defaults and validates every setting. Throws {@link SpecError} naming the first
 * bad field. Pure and deterministic: the same settings always give the same spec.
 */
export function normalizeSpec(s: ServiceSettings): ServiceSpec {
  const d = DEFAULTS;
  const job = checkJob("job", s.job ?? d.job);
  const rawRoot = s.appRoot ?? (s.releases === true ? `/srv/${job}` : undefined);
  const appRoot = rawRoot === undefined ? undefined : checkPath("appRoot", rawRoot);
  // With releases, the project is whatever `current` points at.
  const releaseDir = appRoot === undefined ? undefined : `${appRoot}/current`;
  if (releaseDir !== undefined && s.projectDir !== undefined && s.projectDir !== releaseDir) {
    throw new SpecError(
      "projectDir",
      `with app releases the project is ${show(releaseDir)} (<appRoot>/current); leave projectDir unset`,
    );
  }
  const projectDir = checkPath("projectDir", releaseDir ?? s.projectDir ?? d.projectDir);
  const spec: ServiceSpec = {
    job,
    description: checkText("description", s.description ?? d.description, 256),
    startOnRunlevels: checkRunlevels("startOnRunlevels", s.startOnRunlevels ?? d.startOnRunlevels),
    stopOnRunlevels: checkOneOf(
      "stopOnRunlevels",
      s.stopOnRunlevels ?? d.stopOnRunlevels,
      STOP_RUNLEVELS,
    ),
    respawn: checkBool("respawn", s.respawn ?? d.respawn),
    respawnLimitCount: checkInt(
      "respawnLimitCount",
      s.respawnLimitCount ?? d.respawnLimitCount,
      1,
      10000,
    ),
    respawnLimitInterval: checkInt(
      "respawnLimitInterval",
      s.respawnLimitInterval ?? d.respawnLimitInterval,
      0,
      86400,
    ),
    launcherPath: checkStanzaPath("launcherPath", s.launcherPath ?? defaultLauncherPath(job)),
    gunicornConfigPath: checkPath(
      "gunicornConfigPath",
      s.gunicornConfigPath ?? defaultGunicornConfigPath(job),
    ),
    stateDir: checkPath("stateDir", s.stateDir ?? d.stateDir),
    projectDir,
    virtualenv: checkPath("virtualenv", s.virtualenv ?? d.virtualenv),
    logFile: checkPath("logFile", s.logFile ?? d.logFile),
    user: checkName("user", s.user ?? d.user),
    group: checkName("group", s.group ?? d.group),
    wsgiApp: checkWsgi("wsgiApp", s.wsgiApp ?? d.wsgiApp),
    invocation: checkOneOf("invocation", s.invocation ?? d.invocation, INVOCATIONS),
    extraArgs: checkArgs("extraArgs", s.extraArgs ?? []),
    workers: checkWorkers("workers", s.workers ?? d.workers),
    bind: s.bind ?? d.bind,
    logLevel: checkOneOf("logLevel", s.logLevel ?? d.logLevel, LOG_LEVELS),
    timeout: checkInt("timeout", s.timeout ?? d.timeout, 0, 86400),
    gracefulTimeout: checkInt("gracefulTimeout", s.gracefulTimeout ?? d.gracefulTimeout, 0, 86400),
    maxRequests: checkInt("maxRequests", s.maxRequests ?? d.maxRequests, 0, 1_000_000_000),
    maxRequestsJitter: checkInt(
      "maxRequestsJitter",
      s.maxRequestsJitter ?? d.maxRequestsJitter,
      0,
      1_000_000_000,
    ),
    jobEnv: checkEnv("jobEnv", s.jobEnv, true),
    normalExit: (s.normalExit ?? []).map((v, i) => checkExit(`normalExit[${i}]`, v)),
    startTimeout: checkStartTimeout("startTimeout", s.startTimeout ?? d.startTimeout),
    healthCheckPath: checkHealthPath("healthCheckPath", s.healthCheckPath ?? d.healthCheckPath),
    healthyStatusBelow: checkInt(
      "healthyStatusBelow",
      s.healthyStatusBelow ?? d.healthyStatusBelow,
      200,
      600,
    ),
    keepReleases: checkInt("keepReleases", s.keepReleases ?? d.keepReleases, 1, 100),
    logrotate: checkBool("logrotate", s.logrotate ?? d.logrotate),
    sudo: checkOneOf("sudo", s.sudo ?? d.sudo, SUDO_MODES),
    init: checkOneOf("init", s.init ?? d.init, INITS),
    relaxSandbox: checkList("relaxSandbox", s.relaxSandbox ?? []).map((v, i) =>
      checkOneOf(`relaxSandbox[${i}]`, v, SANDBOX_DIRECTIVES),
    ),
    readWritePaths: checkList("readWritePaths", s.readWritePaths ?? []).map((v, i) =>
      checkUnitPath(`readWritePaths[${i}]`, v),
    ),
  };
  if (s.accessLog !== undefined) spec.accessLog = checkPath("accessLog", s.accessLog);
  if (s.healthCheckHost !== undefined) {
    spec.healthCheckHost = checkHostHeader("healthCheckHost", s.healthCheckHost);
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
  if (appRoot !== undefined) spec.appRoot = appRoot;
  parseBind("bind", spec.bind);
  if (s.chdir !== undefined) spec.chdir = checkStanzaPath("chdir", s.chdir);
  if (s.umask !== undefined) spec.umask = checkUmask("umask", s.umask);
  if (s.nofile !== undefined) spec.nofile = checkNofile("nofile", s.nofile);
  // A stop sends TERM and Gunicorn gives its workers gracefulTimeout to finish their requests;
  // the init's own timeout (Upstart's default is 5 s) must not cut that short.
  spec.killTimeout =
    s.killTimeout !== undefined
      ? checkInt("killTimeout", s.killTimeout, 0, 86400)
      : spec.gracefulTimeout + KILL_TIMEOUT_MARGIN;
  if (s.console !== undefined) spec.console = checkOneOf("console", s.console, CONSOLE_MODES);
  // The master runs as the app user unless it must bind a port below 1024 under Upstart
  // (systemd gives the app user that one capability instead); Gunicorn drops the workers.
  const rootMaster = spec.init === "upstart" && bindsLowPort(spec.bind);
  const setuid = s.setuid ?? (rootMaster ? undefined : spec.user);
  if (setuid !== undefined) spec.setuid = checkName("setuid", setuid);
  const setgid = s.setgid ?? (s.setuid === undefined && !rootMaster ? spec.group : undefined);
  if (setgid !== undefined) spec.setgid = checkName("setgid", setgid);
  if (s.reloadSignal !== undefined) spec.reloadSignal = checkSignal("reloadSignal", s.reloadSignal);
  if (spec.init === "systemd") checkSystemdSpec(spec);
  if (spec.sudo === "helper" && (spec.setuid === undefined || spec.setuid === "root")) {
    // The helper lets the SSH user write the job file; only a job that drops to a non-root
    // user keeps that from being root for everything.
    throw new SpecError(
      "setuid",
      `sudo "helper" needs setuid set to the app's (non-root) user, so that nothing the deploy user writes runs as root; got ${show(spec.setuid)}`,
    );
  }
  const paths: [string, string][] = [
    ["launcherPath", spec.launcherPath],
    ["gunicornConfigPath", spec.gunicornConfigPath],
    ["logFile", spec.logFile],
  ];
  if (spec.accessLog !== undefined) paths.push(["accessLog", spec.accessLog]);
  for (const [i, [fa, pa]] of paths.entries()) {
    for (const [fb, pb] of paths.slice(i + 1)) {
      if (pa === pb)
        throw new SpecError(
          fb,
          `${show(pb)} is also used for '${fa}'; each file needs its own path`,
        );
    }
  }
  return spec;
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

/** Seconds the init waits beyond `gracefulTimeout` before it kills what is left of a stop. */
export const KILL_TIMEOUT_MARGIN = 5;

/** Whether the bind is a TCP port below 1024, which only root (or CAP_NET_BIND_SERVICE) binds. */
export function bindsLowPort(bind: string): boolean {
  const parsed = parseBind("bind", bind);
  return parsed.kind === "tcp" && parsed.port < 1024;
}

/** The health gate passes once the master has served for 2 s: a shorter timeout never can. */
export const GATE_STABLE_SECONDS = 2;
function checkStartTimeout(field: string, value: unknown): number {
  const min = GATE_STABLE_SECONDS + 2;
  const n = checkInt(field, value, 1, 3600);
  if (n < min) {
    throw new SpecError(
      field,
      `${n} s can never pass the health gate, which needs the master serving for ${GATE_STABLE_SECONDS} s after it first answers; use ${min} to 3600`,
    );
  }
  return n;
}

function checkWorkers(field: string, value: unknown): number | "auto" {
  if (value === "auto") return "auto";
  try {
    return checkInt(field, value, 1, 1024);
  } catch {
    throw new SpecError(
      field,
      `expected a whole number from 1 to 1024 or "auto", got ${show(value)}`,
    );
  }
}

function checkHealthPath(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^\/[\x21-\x7e]{0,1023}$/.test(value)) {
    throw new SpecError(
      field,
      `expected a URL path starting with '/', without blanks, got ${show(value)}`,
    );
  }
  return value;
}

function checkBool(field: string, value: unknown): boolean {
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  throw new SpecError(field, `expected true or false, got ${show(value)}`);
}

function checkRunlevels(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^\[!?[0-6Ss]{1,8}\]$/.test(value)) {
    throw new SpecError(
      field,
      `expected a runlevel set such as [2345] or [!2345], got ${show(value)}`,
    );
  }
  return value;
}

function checkWsgi(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length > 256 || !WSGI_RE.test(value)) {
    throw new SpecError(
      field,
      `expected a WSGI app as module.path:callable (e.g. mysite.wsgi:application), got ${show(value)}`,
    );
  }
  return value;
}

function checkArgs(field: string, value: unknown): string[] {
  if (!Array.isArray(value))
    throw new SpecError(field, `expected a list of strings, got ${show(value)}`);
  return value.map((v, i) => {
    if (typeof v !== "string" || v.includes("\0") || v.length > 4096) {
      throw new SpecError(
        `${field}[${i}]`,
        "expected a string without NUL, at most 4096 characters",
      );
    }
    return v;
  });
}

/** A Host header value: a DNS name or an address, with an optional port. */
function checkHostHeader(field: string, value: unknown): string {
  if (
    typeof value !== "string" ||
    !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(:\d{1,5})?$/.test(value)
  ) {
    throw new SpecError(
      field,
      `expected a host name such as www.example.com (optionally :PORT), got ${show(value)}`,
    );
  }
  return value;
}

function checkList(field: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new SpecError(field, `expected a list, got ${show(value)}`);
  return value;
}

/** A path in a space-separated systemd list: no blanks, quotes, backslashes or '%'. */
function checkUnitPath(field: string, value: unknown): string {
  const path = checkPath(field, value);
  if (/[\s"'\\%]/.test(path)) {
    throw new SpecError(
      field,
      `${show(path)} cannot go into a systemd path list (no blanks, quotes, '\\' or '%')`,
    );
  }
  return path;
}

function checkExit(field: string, value: unknown): string {
  if (typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value))) {
    return String(checkInt(field, value, 0, 255));
  }
  return checkSignal(field, value);
}

function checkUmask(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^0?[0-7]{3}$/.test(value)) {
    throw new SpecError(field, `expected an octal umask such as 022 or 027, got ${show(value)}`);
  }
  return value.padStart(4, "0");
}

function checkNofile(field: string, value: unknown): { soft: number; hard: number } {
  const v = value as { soft?: unknown; hard?: unknown } | null;
  if (typeof v !== "object" || v === null) {
    throw new SpecError(field, `expected { soft, hard }, got ${show(value)}`);
  }
  const soft = checkInt(`${field}.soft`, v.soft, 1, 1 << 30);
  const hard = checkInt(`${field}.hard`, v.hard ?? soft, 1, 1 << 30);
  if (soft > hard) throw new SpecError(field, `soft limit ${soft} is above hard limit ${hard}`);
  return { soft, hard };
}

/** A mode string for `chmod`: three or four octal digits. */
export function checkMode(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^[0-7]{3,4}$/.test(value)) {
    throw new SpecError(field, `expected an octal mode such as 0644 or 0640, got ${show(value)}`);
  }
  return value.padStart(4, "0");
}

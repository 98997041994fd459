/**
 * The files and scripts of the processes beside the web (components/render/processes.ts): per
 * process, its Upstart job or systemd unit `<job>-<name>`, its launcher, the manifest its
 * lifecycle acts on, and that lifecycle's apply and stop. Pure.
 */
import { KILL_TIMEOUT_MARGIN, jobFilePath, systemdTarget, type ServiceSpec } from "./spec";
import type { ProcessSpec } from "./processes";
import { dirnameOf, initNoun, withTitle } from "./launcher";
import { hostText, renderHostProgram } from "./hostProgram";
import type { FileTarget } from "./remoteScripts";
import { renderSandbox } from "./systemdSandbox";
import { LOCK_WAIT_SECONDS, sha256 } from "./lifecycleScripts";

/** The job (unit) name of a process: `<job>-<name>`. */
export function processJob(spec: Pick<ServiceSpec, "job">, name: string): string {
  return `${spec.job}-${name}`;
}

/** Its launcher, beside the web's: `run-<job>-<name>.sh`. */
export function processLauncherPath(
  spec: Pick<ServiceSpec, "job" | "launcherPath">,
  name: string,
): string {
  return `${dirnameOf(spec.launcherPath)}/run-${processJob(spec, name)}.sh`;
}

/** Under Upstart, a process's output: the job's console log (Upstart's own, root's). */
export function processLogPath(spec: Pick<ServiceSpec, "job">, name: string): string {
  return `/var/log/upstart/${processJob(spec, name)}.log`;
}

/** The files of one process, by role. */
export type ProcessFileRole = "job" | "launcher";

/** One process file: where it goes, its content, and how the helper treats it. */
export interface ProcessFile extends FileTarget {
  role: ProcessFileRole;
  content: string;
  /** The init reads it: `systemctl daemon-reload` after a delete. */
  systemdReload: boolean;
  /**
   * With `sudo: helper`: root's init runs the job as it says (`fixed`, accepted only as
   * rendered at the helper's install); the launcher runs as the app user only (`deploy`).
   */
  helper: "fixed" | "deploy";
}

const root = (path: string, mode: string) => ({ path, owner: "root", group: "root", mode });

/** The job file (or unit) and launcher of process `name`. */
export function renderProcessFiles(spec: ServiceSpec, name: string, p: ProcessSpec): ProcessFile[] {
  const job = processJob(spec, name);
  return [
    {
      role: "job",
      ...root(jobFilePath(job, spec.init), "0644"),
      content:
        spec.init === "systemd"
          ? renderProcessUnit(spec, name, p)
          : renderProcessJob(spec, name, p),
      systemdReload: spec.init === "systemd",
      helper: "fixed",
    },
    {
      role: "launcher",
      ...root(processLauncherPath(spec, name), "0755"),
      content: renderProcessLauncher(spec, name, p),
      systemdReload: false,
      helper: "deploy",
    },
  ];
}

/**
 * The job's or unit's title. Without the command: the command is the launcher's (run as the app
 * user, the deploy user's to change under `sudo: helper`), the job file is fixed in the helper.
 */
function title(spec: ServiceSpec, name: string): string {
  return `the process ${name} of ${spec.job}, beside Gunicorn (its command: in its launcher).`;
}

/**
 * The Upstart job of a process: the web job's start and stop runlevels, respawn, umask,
 * limits and environment; always the app user (never root, whatever the web's master needs);
 * `console log` (Upstart's /var/log/upstart/<job>-<name>.log: its own log); a kill timeout
 * a little longer than the stop timeout, which the launcher keeps itself.
 */
export function renderProcessJob(spec: ServiceSpec, name: string, p: ProcessSpec): string {
  const job = processJob(spec, name);
  const lines = [
    `# Upstart job ${jobFilePath(job)}: ${title(spec, name)}`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
    `description "${spec.description}: ${name}"`,
    "",
    `start on runlevel ${spec.startOnRunlevels}`,
    `stop on runlevel ${spec.stopOnRunlevels}`,
    "",
    "respawn",
    `respawn limit ${spec.respawnLimitCount} ${spec.respawnLimitInterval}`,
    "",
  ];
  if (spec.umask !== undefined) lines.push(`umask ${spec.umask}`);
  if (spec.nofile !== undefined) lines.push(`limit nofile ${spec.nofile.soft} ${spec.nofile.hard}`);
  lines.push(
    `kill timeout ${p.stopTimeout + KILL_TIMEOUT_MARGIN}`,
    "console log",
    `setuid ${spec.user}`,
    `setgid ${spec.group}`,
  );
  for (const key of Object.keys(spec.jobEnv).sort()) {
    lines.push(`env ${key}="${spec.jobEnv[key] as string}"`);
  }
  lines.push("", `exec ${processLauncherPath(spec, name)}`);
  return lines.join("\n") + "\n";
}

/**
 * The systemd unit of a process: after the web's unit, the web unit's sandbox (without its
 * capability to bind a low port: a process binds nothing), the app user, `KillMode=mixed` (TERM
 * to the launcher, which passes it to the command's main process), output to the journal.
 */
export function renderProcessUnit(spec: ServiceSpec, name: string, p: ProcessSpec): string {
  const job = processJob(spec, name);
  const lines = [
    `# systemd unit ${jobFilePath(job, "systemd")}: ${literal(title(spec, name))}`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
    "[Unit]",
    `Description=${literal(spec.description)}: ${name}`,
    `After=network.target ${spec.job}.service`,
    `StartLimitIntervalSec=${spec.respawnLimitInterval}`,
    `StartLimitBurst=${spec.respawnLimitCount + 1}`,
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${literal(processLauncherPath(spec, name))}`,
    "Restart=always",
    "KillMode=mixed",
    `TimeoutStopSec=${p.stopTimeout + KILL_TIMEOUT_MARGIN}`,
    ...appUserServiceLines(spec),
    "",
    "[Install]",
    `WantedBy=${systemdTarget(spec.startOnRunlevels) as string}`,
    "",
  ];
  return lines.join("\n");
}

/** systemd expands `%` specifiers in most settings; a literal `%` is written `%%`. */
export function literal(text: string): string {
  return text.replace(/%/g, "%%");
}

/**
 * The `[Service]` lines every unit beside the web has (a process's, a scheduled job's): the app
 * user and group, the web's umask, limits and job environment, and the web unit's sandbox for a
 * service that runs as the app user and binds nothing (no capability).
 */
export function appUserServiceLines(spec: ServiceSpec): string[] {
  const lines = [`User=${spec.user}`, `Group=${spec.group}`];
  if (spec.umask !== undefined) lines.push(`UMask=${spec.umask.padStart(4, "0")}`);
  if (spec.nofile !== undefined) lines.push(`LimitNOFILE=${spec.nofile.soft}:${spec.nofile.hard}`);
  for (const key of Object.keys(spec.jobEnv).sort()) {
    lines.push(`Environment="${key}=${literal(spec.jobEnv[key] as string)}"`);
  }
  const sandboxed: ServiceSpec = { ...spec, setuid: spec.user, bind: "127.0.0.1:8000" };
  lines.push(
    "",
    "# Sandbox: the web unit's (relaxSandbox lifts a part).",
    ...renderSandbox(sandboxed).map(literal),
  );
  return lines;
}

/** The launcher of a process: components/host/process-launcher.sh with process-loader.py. */
export function renderProcessLauncher(spec: ServiceSpec, name: string, p: ProcessSpec): string {
  const program = renderHostProgram("process-launcher.sh", {
    VIRTUALENV: spec.virtualenv,
    PROJECTDIR: spec.projectDir,
    CONFIG: spec.gunicornConfigPath,
    STOP_TIMEOUT: p.stopTimeout,
    COMMAND: p.command,
    LOADER: hostText("process-loader.py"),
  });
  return withTitle(
    program,
    `Launcher of the ${initNoun(spec)} ${processJob(spec, name)}: the process ${name} of ${spec.job}.`,
  );
}

/** What a process runs, whose change restarts it. */
export interface ProcessInputs {
  job: string;
  launcher: string;
  /** The app environment (it may hold secrets: only its hash goes out). */
  env: Readonly<Record<string, string>>;
  /** The release, with releases. */
  release?: string;
  /** A token of the virtualenv's last build, with one. */
  virtualenv?: string;
}

/** The manifest a process's lifecycle gets on standard input: hashes and ids only. */
export function renderProcessManifest(inputs: ProcessInputs): string {
  const env = Object.keys(inputs.env)
    .sort()
    .map((k) => `${k}=${inputs.env[k] as string}`)
    .join("\n");
  return (
    `restart job=${sha256(inputs.job)} launcher=${sha256(inputs.launcher)} env=${sha256(env)}\n` +
    (inputs.release !== undefined ? `release ${inputs.release}\n` : "") +
    (inputs.virtualenv !== undefined ? `virtualenv ${inputs.virtualenv}\n` : "")
  );
}

/** Where a process's lifecycle records what it was started with. */
export function processStatePath(spec: ServiceSpec, name: string): string {
  return `${spec.stateDir}/${processJob(spec, name)}.applied`;
}

export function processApplyLabel(spec: ServiceSpec, name: string): string {
  return `the lifecycle of ${processJob(spec, name)}`;
}

export function processStopLabel(spec: ServiceSpec, name: string): string {
  return `stopping ${processJob(spec, name)}`;
}

/** Starts the process, or restarts it on a new manifest, then checks it keeps running. */
export function renderProcessApplyScript(spec: ServiceSpec, name: string, p: ProcessSpec): string {
  return renderHostProgram("process-apply.sh", {
    JOB: processJob(spec, name),
    INIT: spec.init,
    STATE_FILE: processStatePath(spec, name),
    LOG_FILE: spec.init === "systemd" ? "" : processLogPath(spec, name),
    SETTLE: p.settleSeconds,
    LOCK_WAIT: LOCK_WAIT_SECONDS,
    LOG_LINES: 15,
  });
}

/** Stops the process, before its files go. */
export function renderProcessStopScript(spec: ServiceSpec, name: string): string {
  return renderHostProgram("process-stop.sh", {
    JOB: processJob(spec, name),
    STATE_FILE: processStatePath(spec, name),
    INIT: spec.init,
  });
}

import { createHash } from "node:crypto";
import { GATE_STABLE_SECONDS, runsMasterAsRoot, type ServiceSpec } from "./spec";
import { connectTarget } from "./checks";
import { logDirs } from "./launcher";
import { hostText, renderHostProgram, type HostValue } from "./hostProgram";

/** How long an `up` waits for another one changing the same job on the host. */
export const LOCK_WAIT_SECONDS = 900;

/** sha256 of a file's content, hex. */
export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The rendered files whose content the running service depends on, and the app release. */
export interface ServiceFiles {
  job: string;
  launcher: string;
  gunicornConfig: string;
  /** Release id when the app is deployed as releases. */
  release?: string;
}

/**
 * The manifest the lifecycle command gets on standard input: content hashes, grouped by the
 * action a change needs. A change to the job or launcher needs a stop and start (Upstart
 * reads a job file only when the job starts, and the launcher runs only then); a change to the
 * Gunicorn config or the app release needs only a HUP. Sent through stdin, not the command
 * string, so that a hash derived from a secret stays in a secret input; in `pulumi preview
 * --diff` the changed line names the action.
 */
export function renderManifest(files: ServiceFiles): string {
  return (
    `restart job=${sha256(files.job)} launcher=${sha256(files.launcher)}\n` +
    `reload config=${sha256(files.gunicornConfig)}\n` +
    (files.release !== undefined ? `release ${files.release}\n` : "")
  );
}

/** The lifecycle's apply, in words, for the line that says it failed. */
export function applyLabel(spec: ServiceSpec): string {
  return `the lifecycle of ${spec.job}`;
}

/** The lifecycle's stop, in words. */
export function stopLabel(spec: ServiceSpec): string {
  return `stopping ${spec.job}`;
}

/** Where the lifecycle records what the running service was started or reloaded with. */
export function stateFilePath(spec: ServiceSpec): string {
  return `${spec.stateDir}/${spec.job}.applied`;
}

/** Where the gate connects: a unix socket's path, or a TCP address (the other one empty). */
function readinessParams(spec: ServiceSpec): Record<string, HostValue> {
  const target = connectTarget(spec.bind);
  if (target.kind === "unix") return { READY_SOCKET: target.path, READY_HOST: "", READY_PORT: "" };
  return { READY_SOCKET: "", READY_HOST: target.host, READY_PORT: target.port };
}

/** Parameters of the releases' part (lib/releases.sh, lib/release-tasks.sh); unused without them. */
function releaseParams(spec: ServiceSpec): Record<string, HostValue> {
  return {
    APP_ROOT: spec.appRoot ?? "",
    CURRENT: spec.appRoot === undefined ? "" : `${spec.appRoot}/current`,
    KEEP_RELEASES: spec.keepReleases,
    VIRTUALENV: spec.virtualenv,
    CONFIG: spec.gunicornConfigPath,
    WSGI_MODULE: spec.wsgiApp.split(":")[0] as string,
    PREFLIGHT: hostText("release-preflight.py"),
    MIGRATE: spec.migrate,
    COLLECT_STATIC: spec.collectStatic,
    STATIC_DIR: spec.staticRoot ?? "",
    RELEASE_COMMANDS: spec.releaseCommands,
    TASK_DRIVER: hostText("release-task-driver.py"),
  };
}

/**
 * Creates or updates the service. Decides the least disruptive action from the manifest on
 * stdin and the manifest last applied; with releases, checks the new release imports and
 * switches `current` to it first; runs the action (a start onto a port another process holds
 * fails at once, naming it); then the health gate: the port is held by the job's master and
 * its workers only, the health path answers below `healthyStatusBelow` with a master PID
 * stable for about 2 s, and after a
 * reload, the same master with new workers. A failed gate switches back to the previous release
 * (and reloads it), or stops a service it started (nothing is left running that the state
 * does not know), and fails with the job's status and the Gunicorn log's tail. Running it
 * twice changes nothing the second time.
 */
export function renderApplyScript(spec: ServiceSpec): string {
  return renderHostProgram("lifecycle-apply.sh", {
    JOB: spec.job,
    INIT: spec.init,
    STATE_FILE: stateFilePath(spec),
    LOGFILE: spec.logFile,
    ROOT_MASTER: runsMasterAsRoot(spec),
    VIRTUALENV_DIR: spec.virtualenv,
    PROJECT_DIR: spec.projectDir,
    APP_USER: spec.user,
    APP_GROUP: spec.group,
    LOG_DIRS: logDirs(spec),
    BIND: spec.bind,
    ...readinessParams(spec),
    START_TIMEOUT: spec.startTimeout,
    GATE_STABLE: GATE_STABLE_SECONDS,
    // Under a urlPrefix Gunicorn strips SCRIPT_NAME from the path, and refuses one without it.
    HEALTH_PATH: `${spec.urlPrefix ?? ""}${spec.healthCheckPath}`,
    HEALTH_HOST: spec.healthCheckHost ?? "",
    HEALTHY_BELOW: spec.healthyStatusBelow,
    LOCK_WAIT: LOCK_WAIT_SECONDS,
    ...releaseParams(spec),
  });
}

/**
 * Stops the service on destroy, before its files are removed (the file resources depend on
 * nothing of the lifecycle, the lifecycle depends on them, so Pulumi deletes it first).
 * A job that is already stopped or unknown is fine. The app, its data and its logs are never
 * touched.
 */
export function renderStopScript(spec: ServiceSpec): string {
  return renderHostProgram("lifecycle-stop.sh", {
    JOB: spec.job,
    STATE_FILE: stateFilePath(spec),
    INIT: spec.init,
    DATA_DIR: spec.dataDir ?? "",
  });
}

import type { ServiceSpec } from "./spec";
import { renderHostProgram } from "./hostProgram";

/** What the job is called under its init, for comments: "Upstart job" or "systemd unit". */
export function initNoun(spec: ServiceSpec): string {
  return spec.init === "systemd" ? "systemd unit" : "Upstart job";
}

/** The directories of the service's logs (error log, and access log when set), each once. */
export function logDirs(spec: ServiceSpec): string[] {
  const logs = [spec.logFile, ...(spec.accessLog !== undefined ? [spec.accessLog] : [])];
  return [...new Set(logs.map(dirnameOf))];
}

/** Directory part of an absolute path (`/a/b/c.log` -> `/a/b`). */
export function dirnameOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/**
 * `program` (a rendered host file) with a title after its shebang: a comment naming the service,
 * for whoever opens the file on the host (a host file's own text cannot name it).
 */
export function withTitle(program: string, title: string): string {
  if (title.includes("\n")) throw new Error(`a title is one line: ${JSON.stringify(title)}`);
  return program.replace("\n", `\n# ${title}\n`);
}

/**
 * Renders the bash launcher the Upstart job `exec`s (or the systemd unit's `ExecStart`):
 * `components/host/launcher.sh`, or `launcher-django-manage.sh` for the recipe's
 * `manage.py run_gunicorn`. The settings Gunicorn re-reads on HUP are in its config file instead.
 */
export function renderLauncher(spec: ServiceSpec): string {
  const params = {
    LOGFILE: spec.logFile,
    LOGDIR: dirnameOf(spec.logFile),
    USER: spec.user,
    GROUP: spec.group,
    VIRTUALENV: spec.virtualenv,
    PROJECTDIR: spec.projectDir,
    CONFIG: spec.gunicornConfigPath,
    EXTRA_ARGS: spec.extraArgs,
  };
  const program =
    spec.invocation === "wsgi"
      ? renderHostProgram("launcher.sh", { ...params, WSGI_APP: spec.wsgiApp })
      : renderHostProgram("launcher-django-manage.sh", params);
  return withTitle(
    program,
    `Launcher for the ${initNoun(spec)} ${spec.job}: runs Gunicorn in the app's virtualenv.`,
  );
}

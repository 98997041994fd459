import type { ServiceSpec } from "../spec";
import { shQuote, shQuoteAll } from "../shell";

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
 * Renders the bash launcher the Upstart job `exec`s (or the systemd unit's `ExecStart`). It keeps the recipe's order of effect:
 * set variables, activate the virtualenv, `cd` to the project, create the log directory, then
 * `exec` Gunicorn (stderr appended to the log) so that Upstart supervises Gunicorn itself.
 *
 * The settings Gunicorn can re-read on HUP (workers, bind, log level, timeouts, app env) are
 * not here but in the config file passed with `--config`, so changing them needs no restart.
 */
export function renderLauncher(spec: ServiceSpec): string {
  const vars: [string, string][] = [
    ["LOGFILE", spec.logFile],
    ["LOGDIR", dirnameOf(spec.logFile)],
    ["USER", spec.user],
    ["GROUP", spec.group],
    ["VIRTUALENV", spec.virtualenv],
    ["PROJECTDIR", spec.projectDir],
    ["CONFIG", spec.gunicornConfigPath],
  ];
  if (spec.invocation === "wsgi") vars.push(["WSGI_APP", spec.wsgiApp]);
  const common = '--config "$CONFIG" --user "$USER" --group "$GROUP" --log-file "$LOGFILE"';
  const extra = spec.extraArgs.length > 0 ? ` ${shQuoteAll(spec.extraArgs)}` : "";
  const exec =
    spec.invocation === "wsgi"
      ? `exec gunicorn ${common}${extra} "$WSGI_APP" 2>>"$LOGFILE"`
      : `exec python manage.py run_gunicorn ${common}${extra} 2>>"$LOGFILE"`;
  return [
    "#!/bin/bash",
    `# Launcher for the ${initNoun(spec)} ${spec.job}: runs Gunicorn in the app's virtualenv.`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
    "# Reloadable settings (workers, bind, log level, timeouts, app environment) live in $CONFIG.",
    "set -e",
    "",
    ...vars.map(([k, v]) => `${k}=${shQuote(v)}`),
    "",
    "# shellcheck source=/dev/null",
    'source "$VIRTUALENV/bin/activate"',
    'cd "$PROJECTDIR"',
    'test -d "$LOGDIR" || mkdir -p "$LOGDIR"',
    "# Gunicorn and its stderr both append to the log, as in the recipe.",
    "# shellcheck disable=SC2094",
    exec,
    "",
  ].join("\n");
}

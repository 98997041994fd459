import { createHash } from "node:crypto";
import { parseBind, type ServiceSpec } from "../spec";
import { shQuote } from "../shell";

/** sha256 of a file's content, hex. */
export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The rendered files whose content the running service depends on. */
export interface ServiceFiles {
  job: string;
  launcher: string;
  gunicornConfig: string;
}

/**
 * The manifest the lifecycle command gets on standard input: content hashes, grouped by the
 * action a change needs. A change to the job or launcher needs a stop and start (Upstart
 * reads a job file only when the job starts, and the launcher runs only then); a change to the
 * Gunicorn config needs only a HUP. Sent through stdin, not the command string, so that a hash
 * derived from a secret stays in a secret input, and so a change shows in preview as `stdin`.
 */
export function renderManifest(files: ServiceFiles): string {
  return (
    `restart job=${sha256(files.job)} launcher=${sha256(files.launcher)}\n` +
    `reload config=${sha256(files.gunicornConfig)}\n`
  );
}

/** Where the lifecycle records what the running service was started or reloaded with. */
export function stateFilePath(spec: ServiceSpec): string {
  return `${spec.stateDir}/${spec.job}.applied`;
}

function readinessVars(spec: ServiceSpec): string[] {
  const bind = parseBind("bind", spec.bind);
  if (bind.kind === "unix") {
    return [`READY_SOCKET=${shQuote(bind.path)}`, "READY_HOST=''", "READY_PORT=''"];
  }
  // A wildcard bind accepts connections on loopback; brackets are not part of the address.
  let host = bind.host.replace(/^\[(.*)\]$/, "$1");
  if (host === "0.0.0.0") host = "127.0.0.1";
  if (host === "::") host = "::1";
  return ["READY_SOCKET=''", `READY_HOST=${shQuote(host)}`, `READY_PORT=${bind.port}`];
}

function prelude(spec: ServiceSpec): string[] {
  return [
    "set -euo pipefail",
    `JOB=${shQuote(spec.job)}`,
    `STATE_FILE=${shQuote(stateFilePath(spec))}`,
    `LOGFILE=${shQuote(spec.logFile)}`,
    `BIND=${shQuote(spec.bind)}`,
    ...readinessVars(spec),
    `START_TIMEOUT=${spec.startTimeout}`,
    "",
    "# The main PID while the job is in a start/ state, empty otherwise.",
    "job_pid() {",
    '  initctl status "$JOB" 2>/dev/null | sed -n "s/^.* start\\/[a-z-]*, process \\([0-9]*\\).*$/\\1/p"',
    "}",
    "is_running() {",
    '  initctl status "$JOB" 2>/dev/null | grep -q " start/"',
    "}",
    "accepts_connections() {",
    '  if [ -n "$READY_SOCKET" ]; then',
    '    [ -S "$READY_SOCKET" ]',
    "  else",
    '    (exec 3<>"/dev/tcp/$READY_HOST/$READY_PORT") 2>/dev/null',
    "  fi",
    "}",
    "",
  ];
}

/**
 * Creates or updates the service: decides the least disruptive action from the manifest on
 * stdin and the manifest last applied, runs it, waits until Gunicorn accepts connections with
 * a stable master, then records the manifest. Running it twice changes nothing the second time.
 */
export function renderApplyScript(spec: ServiceSpec): string {
  return [
    ...prelude(spec),
    "manifest=$(cat)",
    "want_restart=$(printf '%s\\n' \"$manifest\" | sed -n 's/^restart //p')",
    "want_reload=$(printf '%s\\n' \"$manifest\" | sed -n 's/^reload //p')",
    'if [ -z "$want_restart" ] || [ -z "$want_reload" ]; then',
    '  echo "gunicorn-upstart: no manifest on standard input" >&2',
    "  exit 2",
    "fi",
    'had_restart=""',
    'had_reload=""',
    'if [ -f "$STATE_FILE" ]; then',
    '  had_restart=$(sed -n "s/^restart //p" "$STATE_FILE")',
    '  had_reload=$(sed -n "s/^reload //p" "$STATE_FILE")',
    "fi",
    "",
    "# The least disruptive action that makes the running service match the files on disk.",
    "if ! is_running; then",
    "  action=start",
    'elif [ "$had_restart" != "$want_restart" ]; then',
    "  action=restart",
    'elif [ "$had_reload" != "$want_reload" ]; then',
    "  action=reload",
    "else",
    "  action=none",
    "fi",
    "",
    "start_job() {",
    "  local out",
    '  if ! out=$(initctl start "$JOB" 2>&1); then',
    '    echo "initctl start $JOB: $out" >&2',
    "  fi",
    "}",
    'case "$action" in',
    "  start)",
    "    initctl reload-configuration",
    "    start_job",
    "    ;;",
    "  restart)",
    "    # Upstart's own restart keeps the old job definition; stop and start re-read it.",
    "    initctl reload-configuration",
    '    initctl stop "$JOB" >/dev/null',
    "    start_job",
    "    ;;",
    "  reload)",
    '    initctl reload "$JOB"',
    "    ;;",
    "esac",
    "",
    "# Ready when the bind address accepts connections and the master PID has held for 2 s:",
    "# a Gunicorn whose workers cannot import the app binds first and exits a moment later.",
    "deadline=$((SECONDS + START_TIMEOUT))",
    'stable_pid=""',
    "stable_since=0",
    "while :; do",
    "  pid=$(job_pid)",
    '  if [ -n "$pid" ] && accepts_connections; then',
    '    if [ "$pid" != "$stable_pid" ]; then',
    "      stable_pid=$pid",
    "      stable_since=$SECONDS",
    "    elif [ $((SECONDS - stable_since)) -ge 2 ]; then",
    "      break",
    "    fi",
    "  else",
    '    stable_pid=""',
    "  fi",
    '  if [ "$SECONDS" -ge "$deadline" ]; then',
    '    echo "gunicorn-upstart: $JOB did not serve on $BIND within ${START_TIMEOUT}s after $action" >&2',
    '    echo "initctl status: $(initctl status "$JOB" 2>&1 || true)" >&2',
    '    echo "last lines of $LOGFILE:" >&2',
    '    tail -n 30 -- "$LOGFILE" >&2 2>/dev/null || echo "(no log file)" >&2',
    "    exit 1",
    "  fi",
    "  sleep 0.5",
    "done",
    "",
    'mkdir -p -- "$(dirname -- "$STATE_FILE")"',
    'tmp=$(mktemp "$STATE_FILE.XXXXXXXX")',
    'printf \'%s\\n\' "$manifest" > "$tmp"',
    'chmod 0600 "$tmp"',
    'mv -f -- "$tmp" "$STATE_FILE"',
    'echo "gunicorn-upstart: $JOB: $action (master pid $stable_pid)"',
    "",
  ].join("\n");
}

/**
 * Stops the service on destroy, before its files are removed (the file resources depend on
 * nothing of the lifecycle, the lifecycle depends on them, so Pulumi deletes it first).
 * A job that is already stopped or unknown is fine. The app, its data and its logs are never
 * touched.
 */
export function renderStopScript(spec: ServiceSpec): string {
  return [
    "set -euo pipefail",
    `JOB=${shQuote(spec.job)}`,
    `STATE_FILE=${shQuote(stateFilePath(spec))}`,
    'if initctl status "$JOB" 2>/dev/null | grep -q " start/"; then',
    '  initctl stop "$JOB" >/dev/null',
    "fi",
    'rm -f -- "$STATE_FILE"',
    'echo "gunicorn-upstart: $JOB: stopped"',
    "",
  ].join("\n");
}

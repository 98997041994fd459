import { createHash } from "node:crypto";
import { GATE_STABLE_SECONDS, runsMasterAsRoot, type ServiceSpec } from "../spec";
import { connectTarget } from "../checks";
import { shQuote } from "../shell";
import { logDirs } from "./launcher";
import { ROOT_ONLY_TREE_FUNCTION, STEP_CHANNELS } from "./remoteScripts";
import { releaseTaskParts } from "./releaseTasks";

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

function readinessVars(spec: ServiceSpec): string[] {
  const target = connectTarget(spec.bind);
  if (target.kind === "unix") {
    return [`READY_SOCKET=${shQuote(target.path)}`, "READY_HOST=''", "READY_PORT=''"];
  }
  return ["READY_SOCKET=''", `READY_HOST=${shQuote(target.host)}`, `READY_PORT=${target.port}`];
}

/**
 * The init system's side of the lifecycle, as shell functions of the same names for both:
 * `job_pid` (the main PID while running, else empty), `is_running`, `init_start`,
 * `init_restart`, `init_reload`, `init_stop`, `init_status` and `init_log` (for reports).
 */
function initFunctions(spec: ServiceSpec): string[] {
  if (spec.init === "systemd") {
    return [
      'UNIT="$JOB.service"',
      "job_pid() {",
      "  local pid=''",
      '  if systemctl is-active --quiet "$UNIT"; then',
      '    pid=$(systemctl show -p MainPID "$UNIT" 2>/dev/null | cut -d = -f 2)',
      "  fi",
      '  if [ -n "$pid" ] && [ "$pid" != 0 ]; then echo "$pid"; fi',
      "}",
      "is_running() {",
      '  systemctl is-active --quiet "$UNIT"',
      "}",
      "# A unit that hit its start limit refuses to start until reset, unlike an Upstart job.",
      "init_prepare() {",
      "  systemctl daemon-reload",
      '  systemctl reset-failed "$UNIT" 2>/dev/null || true',
      "}",
      "init_start() {",
      "  local out",
      "  init_prepare",
      '  if ! out=$(systemctl enable --now "$UNIT" 2>&1); then',
      '    echo "systemctl enable --now $UNIT: $out" >&2',
      "  fi",
      "}",
      "init_restart() {",
      "  local out",
      "  init_prepare",
      '  systemctl enable "$UNIT" 2>/dev/null || true',
      '  if ! out=$(systemctl restart "$UNIT" 2>&1); then',
      '    echo "systemctl restart $UNIT: $out" >&2',
      "  fi",
      "}",
      "init_reload() {",
      '  systemctl reload "$UNIT"',
      "}",
      "init_stop() {",
      '  systemctl disable --now "$UNIT" 2>/dev/null || systemctl stop "$UNIT" 2>/dev/null || true',
      "}",
      "init_status() {",
      '  echo "systemctl show $UNIT: $(systemctl show -p ActiveState -p SubState -p Result -p MainPID -p NRestarts "$UNIT" 2>&1 | tr "\\n" " " || true)"',
      "}",
      "# What the unit's own processes wrote to the journal (the launcher's errors, before Gunicorn",
      "# has its log; a restarting unit repeats itself, said once); systemd's view is init_status.",
      "init_log() {",
      "  local lines",
      '  lines=$(journalctl _SYSTEMD_UNIT="$UNIT" -n 4 --no-pager -o cat 2>/dev/null | uniq || true)',
      '  if [ -n "$lines" ]; then',
      '    echo "last lines $UNIT wrote to the journal:"',
      '    printf "%s\\n" "$lines"',
      "  fi",
      "}",
    ];
  }
  return [
    "# The main PID while the job is in a start/ state, empty otherwise.",
    "job_pid() {",
    '  { initctl status "$JOB" 2>/dev/null || true; } | sed -n "s/^.* start\\/[a-z-]*, process \\([0-9]*\\).*$/\\1/p"',
    "}",
    "is_running() {",
    '  initctl status "$JOB" 2>/dev/null | grep -q " start/"',
    "}",
    "start_job() {",
    "  local out",
    '  if ! out=$(initctl start "$JOB" 2>&1); then',
    '    echo "initctl start $JOB: $out" >&2',
    "  fi",
    "}",
    "init_start() {",
    "  initctl reload-configuration",
    "  start_job",
    "}",
    "# Upstart's own restart keeps the old job definition; stop and start re-read it.",
    "init_restart() {",
    "  initctl reload-configuration",
    '  initctl stop "$JOB" >/dev/null',
    "  start_job",
    "}",
    "init_reload() {",
    '  initctl reload "$JOB"',
    "}",
    "init_stop() {",
    '  if is_running; then initctl stop "$JOB" >/dev/null; fi',
    "}",
    "init_status() {",
    '  echo "initctl status: $(initctl status "$JOB" 2>&1 || true)"',
    "}",
    "# What the job printed before Gunicorn had its log (the launcher's errors): Upstart's",
    "# console log, root's; a respawning job repeats itself, said once.",
    "init_log() {",
    '  if [ -s "/var/log/upstart/$JOB.log" ]; then',
    '    echo "last lines of /var/log/upstart/$JOB.log:"',
    '    tail -n 4 -- "/var/log/upstart/$JOB.log" | uniq',
    "  fi",
    "}",
  ];
}

function prelude(spec: ServiceSpec): string[] {
  return [
    "set -euo pipefail",
    ...STEP_CHANNELS,
    `JOB=${shQuote(spec.job)}`,
    `STATE_FILE=${shQuote(stateFilePath(spec))}`,
    `LOGFILE=${shQuote(spec.logFile)}`,
    `ROOT_MASTER=${runsMasterAsRoot(spec) ? 1 : "''"}`,
    `VIRTUALENV_DIR=${shQuote(spec.virtualenv)}`,
    `PROJECT_DIR=${shQuote(spec.projectDir)}`,
    `APP_USER=${shQuote(spec.user)}`,
    `APP_GROUP=${shQuote(spec.group)}`,
    `LOG_DIRS=(${logDirs(spec).map(shQuote).join(" ")})`,
    `BIND=${shQuote(spec.bind)}`,
    ...readinessVars(spec),
    `START_TIMEOUT=${spec.startTimeout}`,
    // Under a urlPrefix Gunicorn strips SCRIPT_NAME from the path, and refuses one without it.
    `HEALTH_PATH=${shQuote(`${spec.urlPrefix ?? ""}${spec.healthCheckPath}`)}`,
    `HEALTH_HOST=${shQuote(spec.healthCheckHost ?? "")}`,
    `HEALTHY_BELOW=${spec.healthyStatusBelow}`,
    `LOCK_WAIT=${LOCK_WAIT_SECONDS}`,
    "",
    ...initFunctions(spec),
    "# Root reads and makes what lives where the app user writes only as that user, so a link",
    "# the app user plants there never makes root show or touch a file of its choosing.",
    "as_app_user() {",
    '  (cd / && sudo -n -u "$APP_USER" -- "$@")',
    "}",
    ...ROOT_ONLY_TREE_FUNCTION,
    "worker_pids() {",
    '  if [ -n "$1" ]; then',
    '    { ps -o pid= --ppid "$1" 2>/dev/null || true; } | tr -d " " | sort -n | tr "\\n" " "',
    "  fi",
    "}",
    "# PIDs holding the bind port, one per line; none for a unix socket. From /proc, which every",
    "# Linux host has (ss is not on a minimal Debian): the listening sockets' inodes on the port,",
    "# then the processes with one of them open.",
    "port_holders() {",
    "  local hex",
    '  if [ -z "$READY_PORT" ]; then return 0; fi',
    '  hex=$(printf "%04X" "$READY_PORT")',
    "  # Processes come and go while find reads /proc: its complaints are expected.",
    '  { awk -v p=":$hex" \'$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }\' /proc/net/tcp /proc/net/tcp6 2>/dev/null || true; } |',
    "    sort -u | while read -r inode; do",
    '      { find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\\[$inode\\]" 2>/dev/null || true; } | cut -d / -f 3',
    "    done | sort -un",
    "}",
    "describe_holders() {",
    "  local pid",
    '  for pid in "$@"; do',
    '    echo "  pid $pid, user $(ps -o user= -p "$pid" 2>/dev/null || echo "?"): $(ps -o args= -p "$pid" 2>/dev/null | cut -c 1-200)"',
    "  done",
    "}",
    "# The port's holders that are neither master $1 nor one of its children: a health answer",
    "# from another process on the port is not our service serving. By parent, not by a list",
    "# of workers taken earlier: a reload starts new workers at any moment. A holder that is",
    "# gone by the time it is looked at was one of the old workers leaving.",
    "foreign_holders() {",
    "  local pid ppid",
    "  for pid in $(port_holders); do",
    '    [ "$pid" = "$1" ] && continue',
    '    ppid=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d " ") || continue',
    '    [ -z "$ppid" ] || [ "$ppid" = "$1" ] || echo "$pid"',
    "  done",
    "}",
    "# The HTTP status of the health path, empty when nothing answers. bash's /dev/tcp needs no",
    "# client on the host; a unix socket bind can only be checked for existence.",
    "health_status() {",
    '  if [ -n "$READY_SOCKET" ]; then',
    '    [ -S "$READY_SOCKET" ] && echo 200',
    "    return 0",
    "  fi",
    "  local line=''",
    '  if exec 3<>"/dev/tcp/$READY_HOST/$READY_PORT"; then',
    '    printf "GET %s HTTP/1.0\\r\\nHost: %s\\r\\nUser-Agent: gunicorn-upstart health gate\\r\\n\\r\\n" "$HEALTH_PATH" "${HEALTH_HOST:-$READY_HOST}" >&3',
    "    IFS=' ' read -r -t 10 _ line _ <&3 || true",
    "    exec 3<&-",
    "  fi 2>/dev/null",
    '  echo "$line"',
    "}",
    "",
  ];
}

/** Variables and functions for app releases; empty without them. */
function releaseParts(spec: ServiceSpec): string[] {
  if (spec.appRoot === undefined) return ["APP_ROOT=''", ""];
  const module = spec.wsgiApp.split(":")[0] as string;
  // Imports the WSGI module of the new release as the app user, with the app environment from
  // the Gunicorn config, before anything is switched: a release that cannot even be imported
  // never reaches the running service. Python 2.7 and 3 syntax, for old hosts.
  const preflight = [
    "import os, sys",
    "config, release, module = sys.argv[1:4]",
    "scope = {}",
    "exec(compile(open(config).read(), config, 'exec'), scope)",
    "for item in scope.get('raw_env', []):",
    "    key, _, value = item.partition('=')",
    "    os.environ[key] = value",
    "os.chdir(release)",
    "sys.path.insert(0, release)",
    "__import__(module)",
  ].join("\n");
  return [
    `APP_ROOT=${shQuote(spec.appRoot)}`,
    `CURRENT=${shQuote(`${spec.appRoot}/current`)}`,
    `KEEP_RELEASES=${spec.keepReleases}`,
    `VIRTUALENV=${shQuote(spec.virtualenv)}`,
    `CONFIG=${shQuote(spec.gunicornConfigPath)}`,
    `WSGI_MODULE=${shQuote(module)}`,
    `PREFLIGHT=${shQuote(preflight)}`,
    "",
    "switch_release() {",
    '  ln -sfn -- "$1" "$CURRENT.switch"',
    '  mv -T -- "$CURRENT.switch" "$CURRENT"',
    "}",
    "preflight() {",
    '  if ! as_app_user "$VIRTUALENV/bin/python" -c "$PREFLIGHT" "$CONFIG" "$1" "$WSGI_MODULE" >&2; then',
    '    fail "release $(basename -- "$1") fails to import $WSGI_MODULE; the running release stays"',
    "  fi",
    "}",
    ...releaseTaskParts(spec),
    "# Keeps the newest KEEP_RELEASES releases, and always the current and previous ones.",
    "# Newest first by modification time, which a switch refreshes (touch): last use.",
    "prune_releases() {",
    "  local keep=$1 n=0 dir name",
    "  while IFS= read -r dir; do",
    '    name=$(basename -- "$dir")',
    "    n=$((n + 1))",
    '    if [ "$n" -le "$KEEP_RELEASES" ] || [ "releases/$name" = "$keep" ] || [ "releases/$name" = "$(readlink -- "$CURRENT")" ]; then',
    "      continue",
    "    fi",
    '    rm -rf -- "$dir"',
    '  done < <(find "$APP_ROOT/releases" -mindepth 1 -maxdepth 1 -type d ! -name ".*" -printf "%T@ %p\\n" | sort -rn | cut -d " " -f 2-)',
    "}",
    "",
  ];
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
  return [
    ...prelude(spec),
    ...releaseParts(spec),
    "manifest=$(cat)",
    "want_restart=$(printf '%s\\n' \"$manifest\" | sed -n 's/^restart //p')",
    "want_reload=$(printf '%s\\n' \"$manifest\" | sed -n 's/^reload //p')",
    "want_release=$(printf '%s\\n' \"$manifest\" | sed -n 's/^release //p')",
    'if [ -z "$want_restart" ] || [ -z "$want_reload" ]; then',
    '  reason "no manifest on standard input"',
    "  exit 2",
    "fi",
    "# Only hashes and a release id: the release id becomes a path, the manifest a root file.",
    // grep reads it all (no -q: stopping at the first bad line killed printf with SIGPIPE,
    // and under pipefail that failed pipeline read as "every line is good").
    "if printf '%s\\n' \"$manifest\" | grep -vE '^(restart job=[0-9a-f]{64} launcher=[0-9a-f]{64}|reload config=[0-9a-f]{64}|release [0-9a-f]{16})$' >/dev/null; then",
    '  reason "malformed manifest on standard input"',
    "  exit 2",
    "fi",
    "# Root switches and prunes releases and records state there: only where root alone can",
    "# change the path (a link the app user swapped in would send rm -rf elsewhere).",
    'for own_dir in "$(dirname -- "$STATE_FILE")" ${APP_ROOT:+"$APP_ROOT"}; do',
    '  if ! unsafe=$(root_only_dir "$own_dir"); then',
    "    fail \"refusing to act on $own_dir: $unsafe can be changed by a user other than root; make it root's (app releases and state are root's, the app only reads them)\"",
    "  fi",
    "done",
    "# One change of this job at a time on this host: two ups at once (two people, or a fleet",
    "# and a single host's stack) would otherwise migrate, switch and record at the same time.",
    'mkdir -p -- "$(dirname -- "$STATE_FILE")"',
    'exec 9>>"$STATE_FILE.lock"',
    "if ! flock -n 9; then",
    '  say "gunicorn-upstart: another up is changing $JOB on this host; waiting for it (at most $LOCK_WAIT s)"',
    '  if ! flock -w "$LOCK_WAIT" 9; then',
    '    fail "another up still holds $STATE_FILE.lock after $LOCK_WAIT s; try again when it is done"',
    "  fi",
    "fi",
    'had_restart=""',
    'had_reload=""',
    'if [ -f "$STATE_FILE" ]; then',
    '  had_restart=$(sed -n "s/^restart //p" "$STATE_FILE")',
    '  had_reload=$(sed -n "s/^reload //p" "$STATE_FILE")',
    "fi",
    "before_pid=$(job_pid)",
    'before_workers=$(worker_pids "$before_pid")',
    "",
    "# A new release is checked, then `current` is switched to it; the reload below serves it.",
    "switched=0",
    'previous_release=""',
    'if [ -n "$APP_ROOT" ] && [ -n "$want_release" ]; then',
    '  previous_release=$(readlink -- "$CURRENT" 2>/dev/null || true)',
    '  if [ "$previous_release" != "releases/$want_release" ]; then',
    '    if [ ! -f "$APP_ROOT/releases/$want_release/.gunicorn-upstart-release" ]; then',
    '      fail "release $want_release is not on the host"',
    "    fi",
    '    preflight "$APP_ROOT/releases/$want_release"',
    "    # Migrations, static files and the user's commands, before the new code serves.",
    '    release_tasks "$APP_ROOT/releases/$want_release"',
    '    switch_release "releases/$want_release"',
    '    touch -- "$APP_ROOT/releases/$want_release"',
    "    switched=1",
    "  fi",
    "fi",
    "",
    "# The least disruptive action that makes the running service match the files on disk.",
    "if ! is_running; then",
    "  action=start",
    'elif [ "$had_restart" != "$want_restart" ]; then',
    "  action=restart",
    'elif [ "$had_reload" != "$want_reload" ] || [ "$switched" = 1 ]; then',
    "  action=reload",
    "else",
    "  action=none",
    "fi",
    "",
    "run_action() {",
    '  case "$1" in',
    "    start) init_start ;;",
    "    restart) init_restart ;;",
    "    reload) init_reload ;;",
    "  esac",
    "}",
    "",
    "# The health gate: 0 when the service serves as it should after the action, 1 on timeout.",
    "gate() {",
    "  local deadline=$((SECONDS + START_TIMEOUT)) stable_since=0 pid status ready",
    '  stable_pid=""',
    "  while :; do",
    "    pid=$(job_pid)",
    "    status=$(health_status)",
    "    ready=0",
    '    if [ -z "$pid" ]; then',
    '      last_problem="the job is not running"',
    '    elif foreign=$(foreign_holders "$pid") && [ -n "$foreign" ]; then',
    "      # shellcheck disable=SC2086",
    '      last_problem="port $READY_PORT is held by a process that is not $JOB\'s:$(printf "\\n%s" "$(describe_holders $foreign)")"',
    "      return 1",
    '    elif ! [ "$status" -lt "$HEALTHY_BELOW" ] 2>/dev/null; then',
    '      last_problem="GET $HEALTH_PATH answered ${status:-nothing}"',
    '    elif [ "$1" = reload ] && [ "$pid" != "$before_pid" ]; then',
    '      last_problem="the master changed during the reload ($before_pid -> $pid)"',
    "      return 1",
    '    elif [ "$1" = reload ] && abandoned=$(warm_abandoned) && [ -n "$abandoned" ]; then',
    "      # The master gave the warm reload up and said why: no use waiting any longer.",
    '      last_problem="the new workers did not take over: ${abandoned#* gunicorn-upstart: }"',
    "      return 1",
    '    elif [ "$1" = reload ] && [ "$(new_workers "$pid")" -eq 0 ]; then',
    '      last_problem="no new workers after the reload"',
    "    # A warm reload keeps the old workers until the new ones are ready: serving is not yet",
    "    # the new workers' doing while an old one is left (or finishes a long request).",
    '    elif [ "$1" = reload ] && [ "$(old_workers "$pid")" -gt 0 ]; then',
    '      last_problem="$(old_workers "$pid") old workers still running after the reload (the new ones not ready, or an old one finishing a request)"',
    "    else",
    "      ready=1",
    "    fi",
    '    if [ "$ready" = 0 ]; then',
    '      stable_pid=""',
    '    elif [ "$pid" != "$stable_pid" ]; then',
    "      stable_pid=$pid",
    "      stable_since=$SECONDS",
    `    elif [ $((SECONDS - stable_since)) -ge ${GATE_STABLE_SECONDS} ]; then`,
    "      return 0",
    "    fi",
    '    if [ "$SECONDS" -ge "$deadline" ]; then',
    "      return 1",
    "    fi",
    "    sleep 0.5",
    "  done",
    "}",
    "# The master's line giving up a warm reload, if it wrote one since the action began.",
    "warm_abandoned() {",
    '  [ -n "$log_mark" ] || return 0',
    '  as_app_user tail -c "+$((log_mark + 1))" -- "$LOGFILE" 2>/dev/null | grep -m 1 "gunicorn-upstart: warm reload abandoned" || true',
    "}",
    "# How many workers of master $1 were there before the action.",
    "old_workers() {",
    '  comm -12 <(tr " " "\\n" <<<"$before_workers" | sort) <(worker_pids "$1" | tr " " "\\n" | sort) | grep -c . || true',
    "}",
    "# How many workers of master $1 were not there before the action.",
    "new_workers() {",
    '  comm -13 <(tr " " "\\n" <<<"$before_workers" | sort) <(worker_pids "$1" | tr " " "\\n" | sort) | grep -c . || true',
    "}",
    "# Why the gate failed, then what the init and Gunicorn say, a few lines each, the likeliest",
    "# cause last: the step's error shows the last lines of its log (this report, and what the",
    "# rollback did), and a person reads the end of an error first.",
    "report() {",
    '  reason "$JOB did not serve on $BIND within ${START_TIMEOUT}s after $1: $last_problem"',
    "  init_status",
    '  if as_app_user test -r "$LOGFILE" 2>/dev/null; then',
    '    echo "last lines of $LOGFILE:"',
    '    as_app_user tail -n 4 -- "$LOGFILE" || true',
    "    # The cause often scrolls out of the tail behind shutdown tracebacks: named on its own.",
    "    local errors",
    '    errors=$(as_app_user grep -E "^[A-Za-z_.]*(Error|Exception)(:|$)|\\[ERROR\\]" -- "$LOGFILE" | tail -n 3 || true)',
    '    if [ -n "$errors" ]; then',
    '      echo "last errors in $LOGFILE:"',
    '      printf "%s\\n" "$errors"',
    "    fi",
    "  else",
    '    echo "(no log file at $LOGFILE that $APP_USER can read)"',
    "  fi",
    "  # What the job printed before Gunicorn had its log: a launcher that fails says why there.",
    "  init_log",
    "} >&2",
    "",
    'last_problem=""',
    'stable_pid=""',
    "# Recorded before the action: if it fails, the host's files (and whatever of them the",
    "# service picked up) are the new ones, so the next apply compares against those and acts",
    "# again, even when the engine, which keeps a failed update's previous inputs, sends the",
    "# manifest that last succeeded (a reverted change).",
    "# The log directories, when missing: the master runs as the app user and cannot make one",
    "# under /var/log, nor can a sandboxed unit. Root makes it only where root alone can change",
    "# the path; under a directory of the app user's, the app user makes it.",
    "# A root master opens, appends to and chowns its log files by name, following links, at",
    "# every start and reopen: a log directory the app user can change would let it aim them at",
    "# any file (a link to /etc/passwd, given to the app user). So with a root master every log",
    "# directory is root's alone (root:group 0750: workers reopen the files, never make them).",
    'if [ "$action" != none ] && [ "$action" != reload ]; then',
    '  for log_dir in "${LOG_DIRS[@]}"; do',
    '    if [ -n "$ROOT_MASTER" ]; then',
    '      if ! unsafe=$(root_only_dir "$log_dir"); then',
    '        fail "$JOB would run its Gunicorn master as root writing its logs in $log_dir, but $unsafe can be changed by a user other than root (a link planted there makes root give any file to the app user); make it root\'s (chown root:$APP_GROUP and chmod 0750 each directory, and check what is in it), or run the master as the app user (setuid; a port above 1024, or systemd)"',
    "      fi",
    '      [ -d "$log_dir" ] || install -d -o root -g "$APP_GROUP" -m 0750 -- "$log_dir"',
    '    elif [ ! -d "$log_dir" ]; then',
    '      if root_only_dir "$log_dir" >/dev/null; then',
    '        install -d -o "$APP_USER" -g "$APP_GROUP" -m 0750 -- "$log_dir"',
    "      else",
    '        as_app_user mkdir -p -- "$log_dir" || true',
    "      fi",
    "    fi",
    "  done",
    "fi",
    "# A root master runs Python from the virtualenv and puts the project on its path: both,",
    "# and all in them, must be root's alone, or the app user could run code as root at the",
    "# next start.",
    'if [ -n "$ROOT_MASTER" ] && [ "$action" != none ] && [ "$action" != reload ]; then',
    '  for code_dir in "$VIRTUALENV_DIR" "$PROJECT_DIR"; do',
    '    if ! unsafe=$(root_only_tree "$code_dir"); then',
    '      fail "$JOB would run its Gunicorn master as root with code from $code_dir, but $unsafe can be changed by a user other than root; make it root\'s, deploy the app as releases, or run the master as the app user (setuid; a port above 1024, or systemd)"',
    "    fi",
    "  done",
    "fi",
    "# Starting onto a port someone else holds would respawn forever with 'Connection in use'.",
    'if [ "$action" = start ] && holders=$(port_holders) && [ -n "$holders" ]; then',
    "  # shellcheck disable=SC2086",
    "  describe_holders $holders >&2",
    '  fail "$JOB cannot start: port $READY_PORT on this host is already held by another process:"',
    "fi",
    'mkdir -p -- "$(dirname -- "$STATE_FILE")"',
    'tmp=$(mktemp "$STATE_FILE.XXXXXXXX")',
    'printf \'%s\\n\' "$manifest" > "$tmp"',
    'chmod 0600 "$tmp"',
    'mv -f -- "$tmp" "$STATE_FILE"',
    "# The lock's descriptor is not handed to the service (a process the action starts would",
    "# hold the lock for as long as it runs), nor are the step runner's channels (one held open",
    "# would keep the SSH session from ending).",
    "# Where the Gunicorn log ends before a reload: the gate reads what the master says after it.",
    'log_mark=""',
    'if [ "$action" = reload ]; then',
    '  log_mark=$(as_app_user stat -c %s -- "$LOGFILE" 2>/dev/null || echo 0)',
    "fi",
    'if [ "$action" != none ]; then say "gunicorn-upstart: $JOB: $action, then the health gate (at most ${START_TIMEOUT}s)"; fi',
    'run_action "$action" 6>&- 7>&- 8>&- 9>&-',
    'if [ "$action" != none ] && ! gate "$action"; then',
    '  report "$action"',
    '  if [ "$switched" = 1 ] && [ -n "$previous_release" ]; then',
    "    # Back to the release that served before; reload it (or start it, if the job died).",
    '    switch_release "$previous_release"',
    "    if is_running; then init_reload 6>&- 7>&- 8>&- 9>&- || true; else init_start 6>&- 7>&- 8>&- 9>&-; fi",
    '    echo "gunicorn-upstart: rolled $CURRENT back to $previous_release" >&2',
    '  elif [ "$action" = start ]; then',
    "    # A start that never served is not left running (respawning, holding the port): the",
    "    # engine keeps no state of a failed create, so nothing would ever stop it.",
    "    init_stop",
    '    echo "gunicorn-upstart: stopped $JOB, which never served" >&2',
    "  fi",
    "  exit 1",
    "fi",
    'if [ "$action" = none ]; then stable_pid=$(job_pid); fi',
    'if [ -n "$APP_ROOT" ]; then prune_releases "$previous_release"; fi',
    "# The last line of the output is the component's status.",
    'say "gunicorn-upstart: $JOB: $action (master pid $stable_pid)"',
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
    ...STEP_CHANNELS,
    `JOB=${shQuote(spec.job)}`,
    `STATE_FILE=${shQuote(stateFilePath(spec))}`,
    ...initFunctions(spec),
    "init_stop",
    'rm -f -- "$STATE_FILE" "$STATE_FILE.lock"',
    'say "gunicorn-upstart: $JOB: stopped"',
    "",
  ].join("\n");
}

#!/usr/bin/env bash
# The lifecycle's create and update: makes the running service match the files on the host.
# Decides the least disruptive action from the manifest on standard input and the manifest last
# applied (STATE_FILE); with releases, checks the new release imports, runs its tasks and
# switches `current` to it first; runs the action (a start onto a port another process holds
# fails at once, naming it); then the health gate: the port is held by the job's master and its
# workers only, the health path answers below HEALTHY_BELOW with a master PID stable for
# GATE_STABLE seconds, and after a reload, the same master with new workers. A failed gate
# switches back to the previous release (and reloads it), or stops a service it started
# (nothing is left running that the state does not know), and fails with the job's status and
# the Gunicorn log's tail. Running it twice changes nothing the second time.
#
# Standard input, the manifest (only hashes and a release id, see renderManifest):
#   restart job=<sha256> launcher=<sha256>   a change here needs a stop and start
#   reload config=<sha256>                   a change here (or a new release) needs a HUP
#   release <id>                             with releases: the release to serve
#
# Parameters (filled in by components/render/hostProgram.ts):
#   JOB, INIT           the job's (unit's) name, and its init: lib/init-INIT.sh drives it
#   STATE_FILE          the manifest last applied; its .lock serialises ups of this job
#   LOGFILE             Gunicorn's error log, read for reports as the app user
#   ROOT_MASTER         set when the master runs as root: log and code directories must be root's
#   VIRTUALENV_DIR, PROJECT_DIR   code a root master runs
#   APP_USER, APP_GROUP the service's user and group
#   LOG_DIRS            the log directories to make when missing
#   BIND                Gunicorn's bind, for messages
#   READY_SOCKET        a unix socket bind's path, or empty
#   READY_HOST, READY_PORT   a TCP bind's address, or empty
#   START_TIMEOUT       seconds the gate waits after the action
#   GATE_STABLE         seconds the master must serve unchanged before the gate passes
#   HEALTH_PATH, HEALTH_HOST, HEALTHY_BELOW   the gate's request and the first failing status
#   LOCK_WAIT           seconds to wait for another up of this job
#   APP_ROOT            the app's releases' root, or empty (no releases: the rest is unused)
#   CURRENT, KEEP_RELEASES, VIRTUALENV, CONFIG, WSGI_MODULE, PREFLIGHT   see lib/releases.sh
#   MIGRATE, COLLECT_STATIC, STATIC_DIR, RELEASE_COMMANDS, TASK_DRIVER    see lib/release-tasks.sh
# @params
JOB=example
# The renderer picks lib/init-$INIT.sh by it; the script itself never reads it.
# shellcheck disable=SC2034
INIT=systemd
STATE_FILE=/var/lib/gunicorn-upstart/example.applied
LOGFILE=/var/log/gunicorn/example.log
ROOT_MASTER=''
VIRTUALENV_DIR=/srv/example/venv
PROJECT_DIR=/srv/example/current
APP_USER=example
APP_GROUP=example
LOG_DIRS=(/var/log/gunicorn)
BIND=127.0.0.1:8000
READY_SOCKET=''
READY_HOST=127.0.0.1
READY_PORT=8000
START_TIMEOUT=30
GATE_STABLE=2
HEALTH_PATH=/
HEALTH_HOST=''
HEALTHY_BELOW=400
LOCK_WAIT=900
APP_ROOT=/srv/example
CURRENT=/srv/example/current
KEEP_RELEASES=5
VIRTUALENV=/srv/example/venv
CONFIG=/etc/gunicorn/example.conf.py
WSGI_MODULE=example.wsgi
# Python programs, passed to python -c.
# shellcheck disable=SC2016
PREFLIGHT=''
MIGRATE=1
COLLECT_STATIC=1
STATIC_DIR=''
# Command lines, expanded later by the app user's bash -c, not here.
# shellcheck disable=SC2016
RELEASE_COMMANDS=()
# shellcheck disable=SC2016
TASK_DRIVER=''
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh
# shellcheck source=lib/init-systemd.sh
. "lib/init-$INIT.sh"
# shellcheck source=lib/as-app-user.sh
. lib/as-app-user.sh
# shellcheck source=lib/root-only-tree.sh
. lib/root-only-tree.sh
# shellcheck source=lib/service-probes.sh
. lib/service-probes.sh
# shellcheck source=lib/releases.sh
. lib/releases.sh

manifest=$(cat)
want_restart=$(printf '%s\n' "$manifest" | sed -n 's/^restart //p')
want_reload=$(printf '%s\n' "$manifest" | sed -n 's/^reload //p')
want_release=$(printf '%s\n' "$manifest" | sed -n 's/^release //p')
if [ -z "$want_restart" ] || [ -z "$want_reload" ]; then
  reason "no manifest on standard input"
  exit 2
fi
# Only hashes and a release id: the release id becomes a path, the manifest a root file.
if printf '%s\n' "$manifest" | grep -vE '^(restart job=[0-9a-f]{64} launcher=[0-9a-f]{64}|reload config=[0-9a-f]{64}|release [0-9a-f]{16})$' >/dev/null; then
  reason "malformed manifest on standard input"
  exit 2
fi
# Root switches and prunes releases and records state there: only where root alone can
# change the path (a link the app user swapped in would send rm -rf elsewhere).
for own_dir in "$(dirname -- "$STATE_FILE")" ${APP_ROOT:+"$APP_ROOT"}; do
  if ! unsafe=$(root_only_dir "$own_dir"); then
    fail "refusing to act on $own_dir: $unsafe can be changed by a user other than root; make it root's (app releases and state are root's, the app only reads them)"
  fi
done
# One change of this job at a time on this host: two ups at once (two people, or a fleet
# and a single host's stack) would otherwise migrate, switch and record at the same time.
mkdir -p -- "$(dirname -- "$STATE_FILE")"
exec 9>>"$STATE_FILE.lock"
if ! flock -n 9; then
  say "gunicorn-upstart: another up is changing $JOB on this host; waiting for it (at most $LOCK_WAIT s)"
  if ! flock -w "$LOCK_WAIT" 9; then
    fail "another up still holds $STATE_FILE.lock after $LOCK_WAIT s; try again when it is done"
  fi
fi
had_restart=""
had_reload=""
if [ -f "$STATE_FILE" ]; then
  had_restart=$(sed -n "s/^restart //p" "$STATE_FILE")
  had_reload=$(sed -n "s/^reload //p" "$STATE_FILE")
fi
before_pid=$(job_pid)
before_workers=$(worker_pids "$before_pid")

# A new release is checked, then `current` is switched to it; the reload below serves it.
switched=0
previous_release=""
if [ -n "$APP_ROOT" ] && [ -n "$want_release" ]; then
  previous_release=$(readlink -- "$CURRENT" 2>/dev/null || true)
  if [ "$previous_release" != "releases/$want_release" ]; then
    if [ ! -f "$APP_ROOT/releases/$want_release/.gunicorn-upstart-release" ]; then
      fail "release $want_release is not on the host"
    fi
    preflight "$APP_ROOT/releases/$want_release"
    # Migrations, static files and the user's commands, before the new code serves.
    release_tasks "$APP_ROOT/releases/$want_release"
    switch_release "releases/$want_release"
    touch -- "$APP_ROOT/releases/$want_release"
    switched=1
  fi
fi

# The least disruptive action that makes the running service match the files on disk.
if ! is_running; then
  action=start
elif [ "$had_restart" != "$want_restart" ]; then
  action=restart
elif [ "$had_reload" != "$want_reload" ] || [ "$switched" = 1 ]; then
  action=reload
else
  action=none
fi

run_action() {
  case "$1" in
    start) init_start ;;
    restart) init_restart ;;
    reload) init_reload ;;
  esac
}

# The health gate: 0 when the service serves as it should after the action, 1 on timeout.
gate() {
  local deadline=$((SECONDS + START_TIMEOUT)) stable_since=0 pid status ready
  stable_pid=""
  while :; do
    pid=$(job_pid)
    status=$(health_status)
    ready=0
    if [ -z "$pid" ]; then
      last_problem="the job is not running"
    elif foreign=$(foreign_holders "$pid") && [ -n "$foreign" ]; then
      # shellcheck disable=SC2086
      last_problem="port $READY_PORT is held by a process that is not $JOB's:$(printf "\n%s" "$(describe_holders $foreign)")"
      return 1
    elif ! [ "$status" -lt "$HEALTHY_BELOW" ] 2>/dev/null; then
      last_problem="GET $HEALTH_PATH answered ${status:-nothing}"
    elif [ "$1" = reload ] && [ "$pid" != "$before_pid" ]; then
      last_problem="the master changed during the reload ($before_pid -> $pid)"
      return 1
    elif [ "$1" = reload ] && abandoned=$(warm_abandoned) && [ -n "$abandoned" ]; then
      # The master gave the warm reload up and said why: no use waiting any longer.
      last_problem="the new workers did not take over: ${abandoned#* gunicorn-upstart: }"
      return 1
    elif [ "$1" = reload ] && [ "$(new_workers "$pid")" -eq 0 ]; then
      last_problem="no new workers after the reload"
    # A warm reload keeps the old workers until the new ones are ready: serving is not yet
    # the new workers' doing while an old one is left (or finishes a long request).
    elif [ "$1" = reload ] && [ "$(old_workers "$pid")" -gt 0 ]; then
      last_problem="$(old_workers "$pid") old workers still running after the reload (the new ones not ready, or an old one finishing a request)"
    else
      ready=1
    fi
    if [ "$ready" = 0 ]; then
      stable_pid=""
    elif [ "$pid" != "$stable_pid" ]; then
      stable_pid=$pid
      stable_since=$SECONDS
    elif [ $((SECONDS - stable_since)) -ge "$GATE_STABLE" ]; then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.5
  done
}
# The master's line giving up a warm reload, if it wrote one since the action began.
warm_abandoned() {
  [ -n "$log_mark" ] || return 0
  as_app_user tail -c "+$((log_mark + 1))" -- "$LOGFILE" 2>/dev/null | grep -m 1 "gunicorn-upstart: warm reload abandoned" || true
}
# How many workers of master $1 were there before the action.
old_workers() {
  comm -12 <(tr " " "\n" <<<"$before_workers" | sort) <(worker_pids "$1" | tr " " "\n" | sort) | grep -c . || true
}
# How many workers of master $1 were not there before the action.
new_workers() {
  comm -13 <(tr " " "\n" <<<"$before_workers" | sort) <(worker_pids "$1" | tr " " "\n" | sort) | grep -c . || true
}
# Why the gate failed, then what the init and Gunicorn say, a few lines each, the likeliest
# cause last: the step's error shows the last lines of its log (this report, and what the
# rollback did), and a person reads the end of an error first.
report() {
  reason "$JOB did not serve on $BIND within ${START_TIMEOUT}s after $1: $last_problem"
  init_status
  if as_app_user test -r "$LOGFILE" 2>/dev/null; then
    echo "last lines of $LOGFILE:"
    as_app_user tail -n 4 -- "$LOGFILE" || true
    # The cause often scrolls out of the tail behind shutdown tracebacks: named on its own.
    local errors
    errors=$(as_app_user grep -E "^[A-Za-z_.]*(Error|Exception)(:|$)|\[ERROR\]" -- "$LOGFILE" | tail -n 3 || true)
    if [ -n "$errors" ]; then
      echo "last errors in $LOGFILE:"
      printf "%s\n" "$errors"
    fi
  else
    echo "(no log file at $LOGFILE that $APP_USER can read)"
  fi
  # What the job printed before Gunicorn had its log: a launcher that fails says why there.
  init_log
} >&2

last_problem=""
stable_pid=""
# Recorded before the action: if it fails, the host's files (and whatever of them the
# service picked up) are the new ones, so the next apply compares against those and acts
# again, even when the engine, which keeps a failed update's previous inputs, sends the
# manifest that last succeeded (a reverted change).
# The log directories, when missing: the master runs as the app user and cannot make one
# under /var/log, nor can a sandboxed unit. Root makes it only where root alone can change
# the path; under a directory of the app user's, the app user makes it.
# A root master opens, appends to and chowns its log files by name, following links, at
# every start and reopen: a log directory the app user can change would let it aim them at
# any file (a link to /etc/passwd, given to the app user). So with a root master every log
# directory is root's alone (root:group 0750: workers reopen the files, never make them).
if [ "$action" != none ] && [ "$action" != reload ]; then
  for log_dir in "${LOG_DIRS[@]}"; do
    if [ -n "$ROOT_MASTER" ]; then
      if ! unsafe=$(root_only_dir "$log_dir"); then
        fail "$JOB would run its Gunicorn master as root writing its logs in $log_dir, but $unsafe can be changed by a user other than root (a link planted there makes root give any file to the app user); make it root's (chown root:$APP_GROUP and chmod 0750 each directory, and check what is in it), or run the master as the app user (setuid; a port above 1024, or systemd)"
      fi
      [ -d "$log_dir" ] || install -d -o root -g "$APP_GROUP" -m 0750 -- "$log_dir"
    elif [ ! -d "$log_dir" ]; then
      if root_only_dir "$log_dir" >/dev/null; then
        install -d -o "$APP_USER" -g "$APP_GROUP" -m 0750 -- "$log_dir"
      else
        as_app_user mkdir -p -- "$log_dir" || true
      fi
    fi
  done
fi
# A root master runs Python from the virtualenv and puts the project on its path: both,
# and all in them, must be root's alone, or the app user could run code as root at the
# next start.
if [ -n "$ROOT_MASTER" ] && [ "$action" != none ] && [ "$action" != reload ]; then
  for code_dir in "$VIRTUALENV_DIR" "$PROJECT_DIR"; do
    if ! unsafe=$(root_only_tree "$code_dir"); then
      fail "$JOB would run its Gunicorn master as root with code from $code_dir, but $unsafe can be changed by a user other than root; make it root's, deploy the app as releases, or run the master as the app user (setuid; a port above 1024, or systemd)"
    fi
  done
fi
# Starting onto a port someone else holds would respawn forever with 'Connection in use'.
if [ "$action" = start ] && holders=$(port_holders) && [ -n "$holders" ]; then
  # shellcheck disable=SC2086
  describe_holders $holders >&2
  fail "$JOB cannot start: port $READY_PORT on this host is already held by another process:"
fi
mkdir -p -- "$(dirname -- "$STATE_FILE")"
tmp=$(mktemp "$STATE_FILE.XXXXXXXX")
printf '%s\n' "$manifest" > "$tmp"
chmod 0600 "$tmp"
mv -f -- "$tmp" "$STATE_FILE"
# The lock's descriptor is not handed to the service (a process the action starts would
# hold the lock for as long as it runs), nor are the step runner's channels (one held open
# would keep the SSH session from ending).
# Where the Gunicorn log ends before a reload: the gate reads what the master says after it.
log_mark=""
if [ "$action" = reload ]; then
  log_mark=$(as_app_user stat -c %s -- "$LOGFILE" 2>/dev/null || echo 0)
fi
if [ "$action" != none ]; then say "gunicorn-upstart: $JOB: $action, then the health gate (at most ${START_TIMEOUT}s)"; fi
run_action "$action" 6>&- 7>&- 8>&- 9>&-
if [ "$action" != none ] && ! gate "$action"; then
  report "$action"
  if [ "$switched" = 1 ] && [ -n "$previous_release" ]; then
    # Back to the release that served before; reload it (or start it, if the job died).
    switch_release "$previous_release"
    if is_running; then init_reload 6>&- 7>&- 8>&- 9>&- || true; else init_start 6>&- 7>&- 8>&- 9>&-; fi
    echo "gunicorn-upstart: rolled $CURRENT back to $previous_release" >&2
  elif [ "$action" = start ]; then
    # A start that never served is not left running (respawning, holding the port): the
    # engine keeps no state of a failed create, so nothing would ever stop it.
    init_stop
    echo "gunicorn-upstart: stopped $JOB, which never served" >&2
  fi
  exit 1
fi
if [ "$action" = none ]; then stable_pid=$(job_pid); fi
if [ -n "$APP_ROOT" ]; then prune_releases "$previous_release"; fi
# The last line of the output is the component's status.
say "gunicorn-upstart: $JOB: $action (master pid $stable_pid)"

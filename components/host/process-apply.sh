#!/usr/bin/env bash
# A process's lifecycle, create and update: starts the process (its job or unit), or restarts
# it when what it runs changed (its job file, its launcher, the app environment, the release,
# the virtualenv: the manifest on standard input differs from the one last applied), or when it
# is not running; else leaves it alone. Then its health: it must still run, the same main
# process, SETTLE seconds later. One that dies is stopped (not left respawning) and fails the
# `up` with its log's tail; nothing is recorded, so the next `up` starts it again.
#
# Standard input: the manifest (hashes and ids only, see renderProcessManifest).
#
# Parameters (filled in by components/render/processFiles.ts):
#   JOB         the process's job (unit): <job>-<name>
#   INIT        the init: lib/init-INIT.sh drives it
#   STATE_FILE  the manifest last applied; its .lock serialises ups of this process
#   LOG_FILE    the process's output, a file (the init's console log), or empty: its journal
#   SETTLE      seconds the process must keep running after a start
#   LOCK_WAIT   seconds to wait for another up of this process
#   LOG_LINES   how many lines of its log a failure shows
# @params
JOB=example-worker
# The renderer picks lib/init-$INIT.sh by it; the script itself never reads it.
# shellcheck disable=SC2034
INIT=systemd
STATE_FILE=/var/lib/gunicorn-upstart/example-worker.applied
LOG_FILE=''
SETTLE=3
LOCK_WAIT=900
LOG_LINES=15
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh
# shellcheck source=lib/init-systemd.sh
. "lib/init-$INIT.sh"

manifest=$(cat)
install -d -m 0700 -o root -g root -- "${STATE_FILE%/*}"
exec 9>"$STATE_FILE.lock"
if ! flock -w "$LOCK_WAIT" 9; then
  fail "another up of $JOB held its lock for ${LOCK_WAIT}s"
fi
applied=$(cat -- "$STATE_FILE" 2>/dev/null || true)

# The process's own output: the init's console log (root's), or the unit's journal.
process_log() {
  if [ -n "$LOG_FILE" ]; then
    if [ -f "$LOG_FILE" ]; then
      echo "last lines of $LOG_FILE:"
      tail -n "$LOG_LINES" -- "$LOG_FILE"
    fi
  elif command -v journalctl >/dev/null 2>&1; then
    echo "last lines of the journal of $JOB.service:"
    journalctl -u "$JOB.service" -n "$LOG_LINES" --no-pager -o cat 2>/dev/null || true
  fi
}

if [ "$manifest" = "$applied" ] && is_running; then
  printf '%s\n' "$JOB: unchanged (pid $(job_pid))" >&7
  exit 0
fi
if is_running; then
  action=restart
  say "$JOB: restarting (a stop waits for its running work)"
  # The init's commands get none of the runner's channels or the lock (a daemon keeping them
  # would hold the step open).
  init_restart 6>&- 7>&- 8>&- 9>&-
else
  action=start
  init_start 6>&- 7>&- 8>&- 9>&-
fi

# Its main process, once the init has one.
pid=''
for _ in $(seq 1 50); do
  pid=$(job_pid)
  if [ -n "$pid" ]; then break; fi
  sleep 0.2
done
if [ -n "$pid" ]; then sleep "$SETTLE"; fi
now=$(job_pid)
if [ -z "$pid" ] || [ "$now" != "$pid" ]; then
  init_stop 6>&- 7>&- 8>&- 9>&-
  reason "$JOB did not keep running for ${SETTLE}s after its $action (it is stopped now; fix it and run up again)"
  init_status
  process_log
  exit 1
fi
printf '%s\n' "$manifest" >"$STATE_FILE"
printf '%s\n' "$JOB: $action (pid $pid)" >&7

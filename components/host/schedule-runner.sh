#!/bin/bash
# The runner of a scheduled job: cron runs it as the app user (Upstart hosts), or the job's
# systemd service does, started by its timer. One run at a time: a run that finds the previous
# one still going says so and ends. It runs the command from the project directory (with
# releases, the current one) in the app's virtualenv with the app environment, which
# process-loader.py reads from the Gunicorn config; its output goes to LOG when the app user
# may append to it, else to the system log (logger), or with no LOG to the runner's own output
# (the journal under systemd).
# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.
#
# Parameters (filled in by components/render/scheduleFiles.ts):
#   NAME        the scheduled job's name on the host, <job>-<name>, for its lines
#   VIRTUALENV  the app's virtualenv (activated: its bin first on PATH)
#   PROJECTDIR  where the command runs
#   CONFIG      the Gunicorn config, which holds the app environment
#   COMMAND     the command line, run by bash
#   LOG         the file its output is appended to, or empty
#   LOADER      the Python that loads the environment and runs the command (process-loader.py)
# @params
NAME=example-clearsessions
VIRTUALENV=/srv/example/venv
PROJECTDIR=/srv/example
CONFIG=/etc/gunicorn/example.conf.py
# A command line for the app user's bash, expanded there, not here.
# shellcheck disable=SC2016
COMMAND='python manage.py clearsessions'
LOG=/var/log/example/example-clearsessions.log
LOADER=''
# @end-params
set -u
if [ -n "$LOG" ] && { : >>"$LOG"; } 2>/dev/null; then
  exec >>"$LOG" 2>&1
elif [ -n "$LOG" ] && command -v logger >/dev/null 2>&1; then
  # The log's directory is root's (a root master's): the system log has it instead.
  exec > >(logger -t "$NAME") 2>&1
fi
stamp() { date '+%Y-%m-%d %H:%M:%S'; }
# The lock is on this file, which whoever runs it can read; the run's whole process tree holds
# it until the run ends.
exec 9<"$0"
if ! flock -n 9; then
  echo "$(stamp) $NAME: the previous run is still going; this one is skipped"
  exit 0
fi
echo "$(stamp) $NAME: run starts"
# shellcheck source=/dev/null
source "$VIRTUALENV/bin/activate"
cd "$PROJECTDIR" || exit 1
# In the background, so that a stop (systemd's TERM to this runner) reaches the command, which
# then has its stop timeout; without the lock's descriptor, which this runner holds alone
# (a daemon the command starts must not keep the job from ever running again).
"$VIRTUALENV/bin/python" -c "$LOADER" "$CONFIG" 30 "$COMMAND" 9<&- &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' TERM INT
status=0
while :; do
  wait "$pid" && status=0 || status=$?
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
done
echo "$(stamp) $NAME: run ends, status $status"
exit "$status"

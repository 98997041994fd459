#!/usr/bin/env bash
# A scheduled job's lifecycle, create and update: under systemd, turns its timer on (enabled,
# and restarted, so that a new calendar counts at once) and says when it fires next; under
# Upstart, where cron reads /etc/cron.d by itself, checks that a cron daemon runs (without one
# the entry would never fire, silently).
#
# Parameters (filled in by components/render/scheduleFiles.ts):
#   JOB   the scheduled job's unit name, <job>-<name>
#   INIT  the init: systemd (a timer) or upstart (cron)
# @params
JOB=example-clearsessions
INIT=systemd
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh
if [ "$INIT" = systemd ]; then
  # The init's commands get none of the runner's channels.
  {
    systemctl daemon-reload
    systemctl enable "$JOB.timer"
    systemctl restart "$JOB.timer"
  } 6>&- 7>&- 8>&- >/dev/null 2>&1 || {
    reason "could not turn on the timer $JOB.timer"
    systemctl status "$JOB.timer" --no-pager 2>&1 | tail -n 5 || true
    exit 1
  }
  next=$(systemctl show -p NextElapseUSecRealtime --value "$JOB.timer" 2>/dev/null || true)
  printf '%s\n' "$JOB: timer on, next run ${next:-unknown}" >&7
else
  if ! pgrep -x cron >/dev/null && ! pgrep -x crond >/dev/null; then
    fail "no cron daemon runs on this host, so /etc/cron.d entries never fire: install and start cron (Debian and Ubuntu: the cron package)"
  fi
  printf '%s\n' "$JOB: in cron" >&7
fi

#!/usr/bin/env bash
# A scheduled job's lifecycle, delete: under systemd, turns its timer off and stops a run in
# progress (TERM, then KILL after its stop timeout), before its files are removed; under
# Upstart, cron stops running it once its entry is removed (next), and a run in progress ends
# by itself. The app's data is never touched.
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
  {
    systemctl disable --now "$JOB.timer" || true
    systemctl stop "$JOB.service" || true
  } 6>&- 7>&- 8>&- >/dev/null 2>&1
  say "gunicorn-upstart: $JOB: timer off"
else
  say "gunicorn-upstart: $JOB: its cron entry goes next"
fi

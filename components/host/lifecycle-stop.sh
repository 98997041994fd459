#!/usr/bin/env bash
# The lifecycle's delete: stops the service on destroy, before its files are removed (the file
# resources depend on nothing of the lifecycle, the lifecycle depends on them, so Pulumi
# deletes it first). A job that is already stopped or unknown is fine. The app, its data and
# its logs are never touched.
#
# Parameters (filled in by components/render/hostProgram.ts):
#   JOB         the job's (unit's) name
#   STATE_FILE  where the lifecycle records what the running service was started with
#   INIT        the init: which init's functions (lib/init-INIT.sh) it runs
#   DATA_DIR    the app's data directory, which stays (said), or empty
# @params
JOB=example
STATE_FILE=/var/lib/gunicorn-upstart/example.applied
# The renderer picks lib/init-$INIT.sh by it; the script itself never reads it.
# shellcheck disable=SC2034
INIT=systemd
DATA_DIR=''
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh
# shellcheck source=lib/init-systemd.sh
. "lib/init-$INIT.sh"
init_stop
rm -f -- "$STATE_FILE" "$STATE_FILE.lock"
say "gunicorn-upstart: $JOB: stopped"
if [ -n "$DATA_DIR" ]; then
  say "gunicorn-upstart: $JOB: its data directory $DATA_DIR stays, with the app's data; remove it by hand once the app is gone for good"
fi

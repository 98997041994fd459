#!/usr/bin/env bash
# A process's lifecycle, delete: stops the process on destroy (or when it leaves the stack),
# before its files are removed; its stop lets it finish its running work for its stop
# timeout. A process already stopped or unknown is fine. The app's data is never touched.
#
# Parameters (filled in by components/render/processFiles.ts):
#   JOB         the process's job (unit): <job>-<name>
#   STATE_FILE  the manifest last applied
#   INIT        the init: which init's functions (lib/init-INIT.sh) it runs
# @params
JOB=example-worker
STATE_FILE=/var/lib/gunicorn-upstart/example-worker.applied
# The renderer picks lib/init-$INIT.sh by it; the script itself never reads it.
# shellcheck disable=SC2034
INIT=systemd
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh
# shellcheck source=lib/init-systemd.sh
. "lib/init-$INIT.sh"
init_stop
rm -f -- "$STATE_FILE" "$STATE_FILE.lock"
say "gunicorn-upstart: $JOB: stopped"

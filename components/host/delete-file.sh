#!/usr/bin/env bash
# Removes the file on destroy; a file already gone is fine (idempotent). With PYTHON_CACHE, also
# the bytecode Python cached when it imported the file (__pycache__/NAME.*.pyc, e.g. of
# Gunicorn's config, which holds the app environment), and __pycache__ when left empty. With
# SYSTEMD_RELOAD, the file is a unit: a removed unit stays loaded in systemd until its
# configuration is reloaded, so systemd forgets it.
#
# With RECORD (the privileged helper's, sudo: helper), FILE is the path the resource wrote, which
# the helper takes as its argument: it is removed only when it is the path this helper manages
# (MANAGED) or a helper of the job recorded it as written (write-file.sh), and it leaves the
# record; any other path is left with a notice.
#
# Parameters (filled in by components/render/hostProgram.ts):
#   FILE            the file's absolute path; "$1" in the helper
#   PYTHON_CACHE    non-empty: remove its bytecode cache too
#   SYSTEMD_RELOAD  non-empty: systemctl daemon-reload after
#   RECORD          the helper's record of the paths it wrote, or empty (no helper)
#   MANAGED         with RECORD: the path this helper writes for the file
# @params
FILE=/etc/example.conf
PYTHON_CACHE=''
SYSTEMD_RELOAD=''
RECORD=''
MANAGED=''
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh
if [ -n "$RECORD" ]; then
  if [ "$FILE" != "$MANAGED" ] && ! grep -qxF -- "$FILE" "$RECORD" 2>/dev/null; then
    say "gunicorn-upstart: left $FILE on the host: no helper of this job wrote it; remove it as root if it is no longer needed"
    exit 0
  fi
  if [ -f "$RECORD" ]; then
    # Deletes run at the same time on destroy (the real engine showed two of them racing on one
    # temp file): the record is rewritten under a lock.
    exec 8>> "$RECORD.lock"
    flock 8
    { grep -vxF -- "$FILE" "$RECORD" || true; } > "$RECORD.new"
    mv -f -- "$RECORD.new" "$RECORD"
  fi
fi
rm -f -- "$FILE"
if [ -n "$PYTHON_CACHE" ]; then
  cache="$(dirname -- "$FILE")/__pycache__"
  base=$(basename -- "$FILE" .py)
  rm -f -- "$cache/$base."*.pyc
  rmdir -- "$cache" 2>/dev/null || true
fi
if [ -n "$SYSTEMD_RELOAD" ]; then
  systemctl daemon-reload
fi

#!/usr/bin/env bash
# Writes standard input to FILE atomically: into a temp file in the same directory, checked for
# the expected byte count (a dropped SSH session gives a short read, which must never replace
# the old file), owned and moded, then renamed over the target. On any failure the temp file is
# removed and the old file stays as it was. Only in directories that root alone can change
# (lib/root-only-dir.sh): root writes, chowns and chmods the file by name.
#
# Two checks and a record are the privileged helper's (sudo: helper), for the files it writes:
# - FIXED_SHA256: content root runs or reads as instructions (the job file or unit, the
#   logrotate rule) is accepted only when it is, byte for byte, the content rendered when the
#   helper was installed: its identity, not a pattern. A pattern check of a job file or unit
#   was bypassed several ways (a parenthesised `start on` read across lines, `User=` ignored
#   outside `[Service]`, `ExecStart= +...`: see docs/security.md).
# - RECORD: once the file is in place, its path is recorded (as root) in RECORD, so a later
#   helper (after a path change and a reinstall) still removes the old file when the stack
#   deletes it (delete-file.sh).
#
# Parameters (filled in by components/render/hostProgram.ts):
#   FILE            the file's absolute path
#   DIR             its directory
#   OWNER, GROUP    its owner and group (names)
#   MODE            its octal mode, e.g. 0644
#   EXPECTED_BYTES  the content's byte count; "$1" in the helper, which checked it is a count
#   FIXED_SHA256    the sha256 the content must have, or empty for any content
#   RECORD          the helper's record of the paths it wrote, or empty for none
#   RECORD_DIR      the record's directory (made when missing)
# @params
FILE=/etc/example.conf
DIR=/etc
OWNER=root
GROUP=root
MODE=0644
EXPECTED_BYTES=0
FIXED_SHA256=''
RECORD=''
RECORD_DIR=''
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh
# shellcheck source=lib/root-only-dir.sh
. lib/root-only-dir.sh
if ! unsafe=$(root_only_dir "$DIR"); then
  fail "refusing to write $FILE: $unsafe can be changed by a user other than root, who could swap the file for a link while root writes it; put the file in a directory only root can change"
fi
mkdir -p -- "$DIR"
tmp=$(mktemp "$DIR/.${FILE##*/}.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
actual_bytes=$(wc -c < "$tmp")
if [ "$actual_bytes" -ne "$EXPECTED_BYTES" ]; then
  fail "refusing to replace $FILE: received $actual_bytes of $EXPECTED_BYTES bytes"
fi
if [ -n "$FIXED_SHA256" ]; then
  if [ "$(sha256sum < "$tmp" | cut -d " " -f 1)" != "$FIXED_SHA256" ]; then
    fail "refusing $FILE: it runs as root, so its content is fixed when the helper is installed; render and install the helper again"
  fi
fi
chown -- "$OWNER:$GROUP" "$tmp"
chmod -- "$MODE" "$tmp"
mv -f -- "$tmp" "$FILE"
trap - EXIT
if [ -n "$RECORD" ]; then
  mkdir -p -- "$RECORD_DIR"
  # The engine runs a stack's writes and deletes at the same time: one at a time here.
  exec 8>> "$RECORD.lock"
  flock 8
  grep -qxF -- "$FILE" "$RECORD" 2>/dev/null || printf '%s\n' "$FILE" >> "$RECORD"
fi
# shellcheck source=lib/run-id.sh
. lib/run-id.sh

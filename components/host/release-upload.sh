#!/usr/bin/env bash
# A release's upload (run as root): unpacks the archive the SSH user copied (over SFTP, to COPY
# under that user's home) into $ROOT/releases/<id> unless it is already there.
#
# The copy is the SSH user's, in a directory that user controls: root never opens it, it runs
# `cat` as that user (SUDO_UID; root itself when the SSH user is root) into its own temp dir,
# and checks the sha256 the deploying `up` packed before anything is unpacked: a missing, short
# or other archive is refused whole and the copy kept for the next try. Then it is unpacked
# there and renamed into place, so a release directory is always complete, and the copy is
# removed (as that user). Root makes only files, directories and symlinks, owned by root, with
# the umask's modes and no setuid/setgid bit: the app user can read and run the release, not
# change it, and nothing in it runs as anyone else. Releases are app code: never removed on
# destroy.
#
# Parameters (filled in by components/render/releaseScripts.ts):
#   ROOT             the app root; releases go to $ROOT/releases/<id>
#   ID               the release's id (16 hex digits); empty: the first argument (the sudo
#                    helper passes it, checked to be 16 hex digits)
#   expected_sha256  the sha256 of the archive the up packed; empty: the second argument (the
#                    helper's, checked to be 64 hex digits)
#   COPY             where the SSH user copied the archive, relative to that user's home
# @params
ROOT=/srv/example
ID=0123456789abcdef
expected_sha256=0000000000000000000000000000000000000000000000000000000000000000
COPY=.gunicorn-upstart/uploads/srv_example-00000000.tar.gz
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh
ID=${ID:-$1}
expected_sha256=${expected_sha256:-$2}
dir="$ROOT/releases/$ID"
# The copy: the SSH user's (sudo says who), read and removed only as that user.
uploader=${SUDO_UID:-0}
if [ "$uploader" = 0 ]; then
  home=${HOME:?}
else
  home=$(getent passwd "$uploader" | cut -d: -f6)
fi
copy="$home/$COPY"
as_uploader() {
  if [ "$uploader" = 0 ]; then "$@"; else sudo -n -u "#$uploader" -- "$@"; fi
}
# Root makes, moves and removes directories here: never under a path the app can change.
# shellcheck source=lib/root-only-dir.sh
. lib/root-only-dir.sh
if ! unsafe=$(root_only_dir "$ROOT"); then
  fail "refusing release $ID: $unsafe can be changed by a user other than root; the app root must be root's (the app only reads releases)"
fi
if [ -f "$dir/.gunicorn-upstart-release" ]; then
  as_uploader rm -f -- "$copy" 2>/dev/null || true
  say "gunicorn-upstart: release $ID is already on the host"
  # shellcheck source=lib/run-id.sh
  . lib/run-id.sh
  exit 0
fi
mkdir -p -- "$ROOT/releases"
tmp=$(mktemp -d "$ROOT/releases/.incoming.XXXXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
if ! why=$(as_uploader cat -- "$copy" 2>&1 > "$tmp/payload"); then
  fail "refusing release $ID: cannot read its copy as the SSH user: ${why:-cat failed} (the copy is removed once a release is unpacked; to copy it again, run the up with --replace on the release's copy resource, <service>-release-copy)"
fi
actual_bytes=$(wc -c < "$tmp/payload")
actual_sha256=$(sha256sum < "$tmp/payload" | cut -d " " -f 1)
if [ "$actual_sha256" != "$expected_sha256" ]; then
  fail "refusing release $ID: the archive that arrived ($actual_bytes bytes, sha256 $actual_sha256) is not the one this up packed (sha256 $expected_sha256); nothing was unpacked (the copy stays at $copy)"
fi
mkdir "$tmp/tree"
# Only files, directories and symlinks: root's tar would make device nodes and hard links.
# The whole listing is read before it is judged: a `grep -q` that stopped at the first odd
# entry killed the listing with SIGPIPE, and under pipefail that pipeline's failure read
# as "nothing odd" (an archive of many device nodes was unpacked).
odd=$(tar -tvzf "$tmp/payload" | grep -v "^[-dl]" || true)
if [ -n "$odd" ]; then
  fail "refusing release $ID: it holds entries other than files, directories and symlinks"
fi
# Root's tar keeps the archive's mode bits: a setuid file would run as root. The umask,
# not the archive, decides; then no setuid or setgid bit may be left anywhere.
tar -xzf "$tmp/payload" -C "$tmp/tree" --no-same-owner --no-same-permissions
find "$tmp/tree" ! -type l -perm /6000 -exec chmod ug-s -- {} +
if [ -n "$(find "$tmp/tree" ! -type l -perm /6000 -print -quit)" ]; then
  fail "refusing release $ID: a setuid or setgid file is left after unpacking"
fi
chmod 0755 "$tmp/tree"
# The marker is ours: an archive that ships the name (a link to /etc/nologin, say) would
# have root create or touch a file of its choosing. Made exclusively (noclobber is
# O_EXCL), never through what is there.
if [ -e "$tmp/tree/.gunicorn-upstart-release" ] || [ -L "$tmp/tree/.gunicorn-upstart-release" ]; then
  fail "refusing release $ID: it ships .gunicorn-upstart-release, a name gunicorn-upstart keeps for itself"
fi
(set -C && : > "$tmp/tree/.gunicorn-upstart-release")
rm -rf -- "$dir"
mv -T -- "$tmp/tree" "$dir"
as_uploader rm -f -- "$copy" 2>/dev/null || true
say "gunicorn-upstart: release $ID unpacked"
# shellcheck source=lib/run-id.sh
. lib/run-id.sh

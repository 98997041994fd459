#!/usr/bin/env bash
# The local machine's down (run as root where `pulumi up` runs): stops the machine (every
# process in it, its forwarder too) and removes its directory (its disk, its keys) and its
# control groups. The cached root file system stays for the next machine.
#
# Parameters (filled in by components/render/localMachine.ts):
#   NAME  the machine's name
#   DIR   the machine's own directory
# @params
NAME=dev
DIR=/var/lib/gunicorn-upstart/machines/dev
# @end-params
set -euo pipefail
# shellcheck source=lib/machine-running.sh
. lib/machine-running.sh
if running; then
  pid=$(cat "$DIR/pid")
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
# Its control groups, deepest first (systemd in the machine made its own below).
for h in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
  [ -d "$h/gunicorn-upstart-machines/$NAME" ] || continue
  find "$h/gunicorn-upstart-machines/$NAME" -depth -type d -exec rmdir {} + 2>/dev/null || true
done
rm -rf -- "$DIR"
echo "the local machine $NAME is gone"

#!/usr/bin/env bash
# Builds (once) the root file system of the systemd test host: Debian bookworm, minimal, with
# systemd as init, OpenSSH, sudo and Debian's Gunicorn and Django. About 70 s and 370 MB; kept
# in CACHE (default /var/tmp/gunicorn-upstart-test) for every later run on this machine, never
# in git. Concurrent callers wait on a lock; a half-built tree is never used.
set -euo pipefail
cache=${1:-/var/tmp/gunicorn-upstart-test}
packages=systemd,systemd-sysv,dbus,openssh-server,sudo,procps,logrotate,python3,python3-venv,gunicorn,python3-django
# A new package list is a new tree: the name carries a hash of it.
rootfs="$cache/rootfs-bookworm-$(printf '%s' "$packages" | sha256sum | cut -c 1-12)"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -f "$rootfs/.complete" ]; then
  echo "$rootfs"
  exit 0
fi
rm -rf "$rootfs.tmp"
debootstrap --variant=minbase \
  --include="$packages" \
  bookworm "$rootfs.tmp" http://deb.debian.org/debian >&2
# No login prompts on the console, no network management: the container shares the host's.
rm -f "$rootfs.tmp/etc/systemd/system/getty.target.wants/"* \
  "$rootfs.tmp/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
touch "$rootfs.tmp/.complete"
rm -rf "$rootfs"
mv "$rootfs.tmp" "$rootfs"
echo "$rootfs"

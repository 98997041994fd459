#!/usr/bin/env bash
# Builds (once) a root file system for a systemd machine: Debian bookworm, minimal, with systemd
# as init, OpenSSH, sudo, Python with venv, and PACKAGES (comma-separated) on top. About 70 s
# and 300-400 MB; kept in CACHE for every later use on this machine (keyed by the package
# list), never in git. Concurrent callers wait on a lock; a half-built tree is never used.
# Prints the tree's path. Used by the local machine (LocalMachine) and the systemd test host.
#
# Parameters: $1 the cache directory; $2 more packages, comma-separated (optional); $3 a host
# UID base (optional, a multiple of 65536): then the tree printed is a copy of the built one
# whose owners are shifted into UIDs/GIDs base..base+65535, for a machine in a user namespace
# that maps its 0..65535 there (made once, about a second: systemd-nspawn's own chown).
set -euo pipefail
cache=$1
extra=${2:-}
uid_base=${3:-}
packages=systemd,systemd-sysv,dbus,openssh-server,sudo,procps,logrotate,ca-certificates,python3,python3-venv${extra:+,$extra}
# A new package list is a new tree: the name carries a hash of it.
rootfs="$cache/rootfs-bookworm-$(printf '%s' "$packages" | sha256sum | cut -c 1-12)"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
# The copy owned by the user namespace's range, from the complete tree.
shift_rootfs() {
  [ -n "$uid_base" ] || { echo "$rootfs"; return; }
  local shifted="$rootfs-u$uid_base"
  if [ ! -f "$shifted/.complete" ]; then
    rm -rf "$shifted.tmp"
    cp -a "$rootfs" "$shifted.tmp"
    systemd-nspawn -q -D "$shifted.tmp" --private-users="$uid_base:65536" \
      --private-users-ownership=chown --register=no --keep-unit --private-network /bin/true >&2
    rm -rf "$shifted"
    mv "$shifted.tmp" "$shifted"
  fi
  echo "$shifted"
}
if [ -f "$rootfs/.complete" ]; then
  shift_rootfs
  exit 0
fi
echo "building a Debian bookworm root file system in $rootfs (about a minute, once)" >&2
rm -rf "$rootfs.tmp"
debootstrap --variant=minbase \
  --include="$packages" \
  bookworm "$rootfs.tmp" http://deb.debian.org/debian >&2
# No login prompts on the console, no network management: the network is configured from outside.
rm -f "$rootfs.tmp/etc/systemd/system/getty.target.wants/"* \
  "$rootfs.tmp/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
# nginx, when in the list, starts with no site (its own would be a default server on port 80,
# on this computer's network for the systemd test host); the services' own sites bring it in.
rm -f "$rootfs.tmp/etc/nginx/sites-enabled/default"
touch "$rootfs.tmp/.complete"
rm -rf "$rootfs"
mv "$rootfs.tmp" "$rootfs"
shift_rootfs

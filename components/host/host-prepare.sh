#!/usr/bin/env bash
# Prepares a host for the service (the HostSetup resource, `prepareHost`): waits for
# cloud-init, installs the OS packages that are missing (apt-get runs only when something is
# missing, so a prepared host needs no network), creates the group, the user and the
# directories when missing. Idempotent; never deletes, never re-owns what exists.
#
# Parameters (filled in by components/render/hostScripts.ts):
#   SERVICE_USER     the service's user, created as a system account without a login shell
#   SERVICE_GROUP    its group, created as a system group when missing
#   SERVICE_HOME     the user's home when it has to be created (it is not made)
#   PACKAGES         OS packages to install with apt-get when missing
#   DIRECTORIES      directories to make when missing, four words each: path owner group mode
#   WAIT_CLOUD_INIT  set: wait for cloud-init to finish first
# @params
SERVICE_USER=app
SERVICE_GROUP=app
SERVICE_HOME=/srv/app
PACKAGES=('python3' 'python3-venv')
DIRECTORIES=('/srv/app' 'app' 'app' '0755' '/var/log/app' 'app' 'app' '0750')
WAIT_CLOUD_INIT=1
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh

# A fresh instance runs cloud-init (and apt) for a while after SSH answers.
if [ -n "$WAIT_CLOUD_INIT" ] && [ -d /var/lib/cloud/instance ]; then
  if cloud-init status --help >/dev/null 2>&1; then
    cloud-init status --wait >/dev/null || true
  else
    for _ in $(seq 600); do [ -e /var/lib/cloud/instance/boot-finished ] && break; sleep 1; done
  fi
fi

# Arrays expand as ${A[@]+"${A[@]}"}: bash before 4.4 (Ubuntu 14.04 has 4.3) treats an empty
# array as unset under `set -u`.
missing=()
for p in ${PACKAGES[@]+"${PACKAGES[@]}"}; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "gunicorn-upstart: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  # nginx installed now starts with nothing: Debian's package would start it at once with
  # its welcome site as the default server on port 80; the service's own site starts it.
  new_nginx='' own_policy=''
  if printf "%s\n" "${missing[@]}" | grep -qx nginx; then
    new_nginx=1
    # (A policy-rc.d already there, as in containers, is left as it is.)
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      own_policy=1
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod 0755 /usr/sbin/policy-rc.d
    fi
  fi
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
    fail "apt-get install ${missing[*]} failed; its last lines:"
  fi
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
  if [ -n "$new_nginx" ]; then
    rm -f /etc/nginx/sites-enabled/default
    say "gunicorn-upstart: disabled nginx's default site (a fresh install)"
  fi
fi

if ! getent group "$SERVICE_GROUP" >/dev/null; then
  groupadd --system "$SERVICE_GROUP"
  say "gunicorn-upstart: created group $SERVICE_GROUP"
fi
if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
  useradd --system --gid "$SERVICE_GROUP" --home-dir "$SERVICE_HOME" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  say "gunicorn-upstart: created user $SERVICE_USER"
fi

# shellcheck source=lib/root-only-dir.sh
. lib/root-only-dir.sh
# make_dir PATH OWNER GROUP MODE: makes the directory when it is missing (an existing one is
# left as it is).
# Root makes a directory (and gives it away) only where root alone can change the path: in
# a directory of another user's, that user could swap the name for a link to /etc between
# the test and the install, and root would hand /etc over. There the directory is made by
# the user who owns that parent, when it is the one it is for; anything else is refused.
make_dir() {
  local unsafe parent
  [ -d "$1" ] && return 0
  if unsafe=$(root_only_dir "$1"); then
    install -d -o "$2" -g "$3" -m "$4" -- "$1"
  else
    parent=$1
    while [ ! -e "$parent" ]; do parent=$(dirname -- "$parent"); done
    if [ "$(stat -c %U -- "$parent")" != "$2" ] || [ "$2" = root ]; then
      fail "refusing to make $1 as root: $unsafe can be changed by a user other than root, who could swap it for a link; make it yourself, or choose a place under directories only root can change"
    fi
    (cd / && sudo -n -u "$2" -- mkdir -p -m "$4" -- "$1")
    (cd / && sudo -n -u "$2" -- chgrp -- "$3" "$1") || say "gunicorn-upstart: $1 keeps the group of $2 (not a member of $3)"
  fi
  say "gunicorn-upstart: created $1"
}
for ((i = 0; i < ${#DIRECTORIES[@]}; i += 4)); do
  make_dir "${DIRECTORIES[@]:i:4}"
done

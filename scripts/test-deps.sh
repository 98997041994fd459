#!/usr/bin/env bash
# Makes sure the Debian packages the tests run for real are installed: shellcheck checks every
# host program and generated script, pyflakes3 the Python host programs; the real-host tests need an
# OpenSSH server and client, sudo, Debian's Gunicorn and Django, venv, ps/pgrep, unshare and logrotate; the systemd host needs
# debootstrap and systemd-nspawn, and systemd-analyze verifies every rendered unit; nginx (and
# openssl, curl) checks and serves the rendered nginx sites; Celery and Redis run beside the web, cron runs scheduled jobs. Installs the missing ones with apt-get when run as root (CI, fresh
# machines); otherwise says what to install and fails.
set -euo pipefail
packages=(shellcheck pyflakes3 openssh-server openssh-client sudo gunicorn python3-django python3-venv procps util-linux logrotate debootstrap systemd-container systemd nginx openssl curl python3-celery python3-redis redis-server cron)
commands=(shellcheck pyflakes3 sshd ssh sudo gunicorn django-admin "" pgrep unshare logrotate debootstrap systemd-nspawn systemd-analyze nginx openssl curl "" "" redis-server cron)
# And what the local machine needs, which the tests boot (LOCAL_MACHINE_NEEDS, the one list,
# read with tsx: on a fresh clone, before `npm ci`, it is not there yet, and the run `npm test`
# makes first (pretest) adds them).
root_dir=$(cd "$(dirname "$0")/.." && pwd)
if [ -d "$root_dir/node_modules/tsx" ]; then
  needs=$(cd "$root_dir" && node --import tsx scripts/localMachineNeeds.ts --all)
  while read -r tool package; do
    case " ${packages[*]} " in *" $package "*) continue ;; esac
    packages+=("$package")
    commands+=("$tool")
  done <<<"$needs"
fi
missing=()
for i in "${!packages[@]}"; do
  if [ -n "${commands[$i]}" ]; then
    PATH="$PATH:/usr/sbin:/sbin" command -v "${commands[$i]}" >/dev/null 2>&1 && continue
  else
    dpkg -s "${packages[$i]}" >/dev/null 2>&1 && continue
  fi
  missing+=("${packages[$i]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
if [ "$(id -u)" -ne 0 ]; then
  echo "the tests need these Debian packages: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]} for the tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
  apt-get update -q >/dev/null
  apt-get install -y -q "${missing[@]}" >/dev/null
}
fi

# A current Gunicorn from PyPI beside Debian's 20.1: the warm reload is tested and benched on
# both (test/helpers/currentGunicorn.ts installs this wheel into a virtualenv on a test host).
# Pinned, so that a run is repeatable; raise it here when a new Gunicorn is out.
CURRENT_GUNICORN=27.0.1
# shellcheck source=scripts/cache-dir.sh
. "$(dirname "$0")/cache-dir.sh"
wheels="$cache/wheels"
if ! compgen -G "$wheels/gunicorn-$CURRENT_GUNICORN-*.whl" >/dev/null; then
  mkdir -p "$wheels"
  python3 -m pip download -q --no-deps --only-binary=:all: --dest "$wheels" "gunicorn==$CURRENT_GUNICORN"
fi

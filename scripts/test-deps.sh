#!/usr/bin/env bash
# Makes sure the Debian packages the tests run for real are installed: shellcheck checks every
# generated script. Installs the missing ones with apt-get when run as root (CI, fresh
# machines); otherwise says what to install and fails.
set -euo pipefail
packages=(shellcheck)
commands=(shellcheck)
missing=()
for i in "${!packages[@]}"; do
  command -v "${commands[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
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

#!/usr/bin/env bash
# `npm run up`'s step before the engine, for a stack on the local machine (the default
# target): the commands that machine needs on this computer (debootstrap, systemd-nspawn, ...:
# LOCAL_MACHINE_NEEDS in components/render/localMachine.ts, the list its own up script checks).
# Run as root with apt-get, installs the missing Debian packages, saying so in one line
# (apt-get update only if the install fails, as scripts/test-deps.sh does); otherwise names
# the command to run and fails, before anything is deployed. Says nothing when all is there
# or the stack deploys to an existing host or a new EC2 instance.
#
# Parameters: $1 the stack (default: STACK, else dev).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stack=${1:-${STACK:-dev}}

needs=$(cd "$root" && node --import tsx scripts/localMachineNeeds.ts --stack "$stack")
missing=()
while read -r tool package; do
  [ -n "$tool" ] || continue
  command -v "$tool" >/dev/null 2>&1 && continue
  case " ${missing[*]} " in *" $package "*) ;; *) missing+=("$package") ;; esac
done <<<"$needs"
[ "${#missing[@]}" -gt 0 ] || exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "npm run up: the local machine needs these Debian packages: sudo apt-get install -y ${missing[*]} (and root: run npm run up as root; or deploy elsewhere, config host or publicKey: see the README)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "npm run up: the local machine needs the commands of these Debian packages, and this computer has no apt-get: ${missing[*]}" >&2
  exit 1
fi
echo "npm run up: installing ${missing[*]} for the local machine (apt-get install -y ${missing[*]})" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
  # Stale package lists on a fresh machine: refresh them once, then try again.
  if ! out=$(apt-get update -q 2>&1 && apt-get install -y -q "${missing[@]}" 2>&1); then
    echo "npm run up: apt-get install -y ${missing[*]} failed; its last lines:" >&2
    tail -n 10 <<<"$out" | sed 's/^/  | /' >&2
    exit 1
  fi
fi

#!/usr/bin/env bash
# `npm run pulumi -- ARGS`: the pinned Pulumi CLI (scripts/toolchain.sh) with this project's
# local file backend, so that `npm run pulumi -- config set workers 5`, `... preview --diff`
# and `... stack export` work with no Pulumi Cloud account:
# - state in .pulumi-state/ (ignored by git), or PULUMI_BACKEND_URL when you set one;
# - PULUMI_HOME (plugins) in the toolchain's cache, outside the repo;
# - secrets encrypted with a generated passphrase kept in .pulumi-state/passphrase (mode
#   0600, never committed, never empty), unless you set PULUMI_CONFIG_PASSPHRASE(_FILE);
#   keep a copy: without it the stack's secrets cannot be decrypted;
# - no update checks, no plugin downloads.
# The stack is STACK (default dev), created when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

state=${PULUMI_STATE_DIR:-$root/.pulumi-state}
mkdir -p "$state"
chmod 0700 "$state"

if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  passphrase="$state/passphrase"
  if [ ! -s "$passphrase" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 >"$passphrase.tmp" && mv -f "$passphrase.tmp" "$passphrase")
    echo "pulumi: generated the stack secrets' passphrase in $passphrase (keep a copy)" >&2
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE=$passphrase
fi

# The toolchain's exit status 3 (CLI ready, a plugin missing) still lets config and state
# commands run; it has said what is missing.
toolchain_status=0
path=$(TOOLCHAIN_QUIET=1 bash "$root/scripts/toolchain.sh" | tail -n 1) || toolchain_status=$?
if [ "$toolchain_status" != 0 ] && [ "$toolchain_status" != 3 ]; then exit "$toolchain_status"; fi
# shellcheck source=scripts/cache-dir.sh
. "$root/scripts/cache-dir.sh"
export PATH="$path:$PATH"
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$state}
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

# A new stack's config file, Pulumi.<stack>.yaml (ignored by git), gets the salt of this
# passphrase. One left from another passphrase (a copy from elsewhere, a state directory
# removed) cannot be used with this one: say so, and what to do.
stack=${STACK:-dev}
if [ "${1:-}" != "version" ] && [ "${1:-}" != "plugin" ] && [ "${1:-}" != "about" ]; then
  if ! pulumi stack select --non-interactive "$stack" >/dev/null 2>&1; then
    if ! out=$(pulumi stack init --non-interactive "$stack" 2>&1); then
      printf '%s\n' "$out" >&2
      if [ -f "Pulumi.$stack.yaml" ] && grep -q 'incorrect passphrase' <<<"$out"; then
        echo "pulumi: Pulumi.$stack.yaml was made with another passphrase (its encryptionsalt), and the stack $stack is not in $PULUMI_BACKEND_URL: set PULUMI_CONFIG_PASSPHRASE_FILE to that passphrase's file, or move Pulumi.$stack.yaml aside to start the stack afresh" >&2
      fi
      exit 1
    fi
    printf '%s\n' "$out" >&2
  fi
fi
exec pulumi "$@"

#!/usr/bin/env bash
# `npm run up`: deploy the stack (STACK, default dev) with the pinned Pulumi CLI and the
# project's local file backend (scripts/pulumi.sh: state in .pulumi-state/, no Pulumi Cloud
# account). Extra arguments go to `pulumi up`, e.g. `npm run up -- --yes`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every resource of the stack is a @pulumi/command Command: without that plugin `up` cannot
# start, so stop here with the toolchain's own explanation rather than the engine's.
status=0
bash scripts/toolchain.sh >/dev/null || status=$?
if [ "$status" = 3 ]; then
  echo "npm run up: the command provider is missing (see above); nothing was deployed" >&2
  exit 3
fi
[ "$status" = 0 ] || exit "$status"
# The local machine (the default target) needs debootstrap and systemd-nspawn here: installed
# now as root, else the command to run, before anything is deployed.
bash scripts/local-machine-deps.sh "${STACK:-dev}"
bash scripts/pulumi.sh up "$@"
# The site's certificate (self-signed on the local machine), saved for clients to trust.
cert=$(bash scripts/pulumi.sh stack output tlsCertificate 2>/dev/null || true)
if [ -n "$cert" ]; then
  file=".pulumi-state/${STACK:-dev}-site.crt"
  printf '%s\n' "$cert" > "$file"
  url=$(bash scripts/pulumi.sh stack output url)
  echo "The site: $url (its certificate: $file)"
  echo "  curl --cacert $file $url"
fi

#!/usr/bin/env bash
# `npm run up`: deploy the stack with the Pulumi CLI, keeping state in a local file backend
# (.pulumi-state/, no Pulumi Cloud account needed). STACK picks the stack (default: dev).
# Extra arguments go to `pulumi up`, e.g. `npm run up -- --yes`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pulumi >/dev/null 2>&1; then
  echo "npm run up needs the Pulumi CLI: curl -fsSL https://get.pulumi.com | sh" >&2
  exit 1
fi
stack=${STACK:-dev}
mkdir -p .pulumi-state
pulumi login "file://$PWD/.pulumi-state"
pulumi stack select --create "$stack"
pulumi up --stack "$stack" "$@"

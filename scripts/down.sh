#!/usr/bin/env bash
# `npm run down`: destroy the stack (STACK, default dev): stops the service and removes its
# files (app code, virtualenv, users and logs stay, see the README). Extra arguments go to
# `pulumi destroy`, e.g. `npm run down -- --yes`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/pulumi.sh destroy "$@"

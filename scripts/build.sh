#!/usr/bin/env bash
# Builds the installable library: components/ compiled to JavaScript with .d.ts files in dist/
# (a stack that installs the package runs plain JavaScript: Pulumi's TypeScript support does not
# compile files inside node_modules), plus the programs the library puts on hosts, which it
# reads at run time: components/host/ as dist/host/. `npm pack` runs this first (prepack).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist
npx tsc -p tsconfig.build.json
cp -R components/host dist/host

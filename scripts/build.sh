#!/usr/bin/env bash
# Builds the installable library: components/ compiled to JavaScript with .d.ts files in dist/
# (a stack that installs the package runs plain JavaScript: Pulumi's TypeScript support does not
# compile files inside node_modules), plus the one non-TypeScript file the library reads at run
# time, the machine's root file system builder. `npm pack` runs this first (prepack).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist
npx tsc -p tsconfig.build.json
install -D -m 0644 components/machine/build-rootfs.sh dist/machine/build-rootfs.sh

#!/usr/bin/env bash
# Copies the host programs (components/host: .sh and .py, with lib/) beside the compiled
# JavaScript that reads them (render/hostProgram.ts looks in ../host): for the library's dist/
# and the plugin's bin/components/. Usage: copy-host-programs.sh FROM TO
set -euo pipefail
from=$1
to=$2
rm -rf -- "$to"
mkdir -p -- "$to/lib"
for f in "$from"/*.sh "$from"/*.py "$from"/lib/*.sh; do
  [ -e "$f" ] || continue
  install -m 0644 -- "$f" "$to/${f#"$from"/}"
done

#!/usr/bin/env bash
# gunicorn-upstart: one step's operations, loaded from standard input by its command, run as
# they are, without the step runner: for scripts whose standard output is their result and
# whose messages are already few (the local machine's). Only the operation the command names
# runs ($0 is its name), with the rest of the arguments and of standard input.
#
# Parameters (filled in by components/render/hostProgram.ts):
#   OPERATIONS  the operations' names (up, down, ...)
#   SCRIPTS     each operation's bash script
# @params
OPERATIONS=(up)
SCRIPTS=('echo up')
# @end-params
op=${1:-}
shift || true
for i in "${!OPERATIONS[@]}"; do
  if [ "${OPERATIONS[i]}" = "$op" ]; then
    exec /bin/bash -c "${SCRIPTS[i]}" "$op" "$@"
  fi
done
echo "gunicorn-upstart: unknown operation '$op'" >&2
exit 2

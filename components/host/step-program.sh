#!/usr/bin/env bash
# gunicorn-upstart: one step's operations, loaded from standard input by its command (the
# loader stub of components/render/remoteScripts.ts, `... gunicorn-upstart OPERATION [ARGS]`).
# Only the operation the command names runs, as its step, under the step runner
# (lib/step-runner.sh), with the rest of the arguments; the rest of standard input (the file
# content, the release) is its standard input. The exit status is the step's.
#
# Parameters (filled in by components/render/hostProgram.ts):
#   OPERATIONS          the operations' names (create, update, delete, ...)
#   LABELS              each operation's step, in words, for the line that says it failed
#   SCRIPTS             each operation's bash script
#   FAILURE_TAIL_LINES  how many lines of a failed step's log its error shows, after the reason
#   FAILURE_LINE_CHARS  how long a line of that tail may be; longer ones are cut
# @params
OPERATIONS=(run)
LABELS=('saying hello')
SCRIPTS=('echo hello')
FAILURE_TAIL_LINES=20
FAILURE_LINE_CHARS=300
# @end-params
set -u
# shellcheck source=lib/step-runner.sh
. lib/step-runner.sh
op=${1:-}
shift || true
for i in "${!OPERATIONS[@]}"; do
  if [ "${OPERATIONS[i]}" = "$op" ]; then
    run_step "${LABELS[i]}" "${SCRIPTS[i]}" "$@"
    exit
  fi
done
echo "gunicorn-upstart: unknown operation '$op'" >&2
exit 2

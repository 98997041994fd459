# shellcheck shell=bash
# Channels of the step runner: 6 progress, 7 results, 8 the reason of a failure. `say`: a
# progress line, streamed live and kept in the command's output; `reason`: why the step fails
# (the first one counts); `fail`: a reason, then exit 1. Run bare (no runner), progress and
# reasons go to stderr and results to stdout. (3 is the health checks' socket, 9 a lock.)
{ true >&6; } 2>/dev/null || exec 6>&2
{ true >&7; } 2>/dev/null || exec 7>&1
{ true >&8; } 2>/dev/null || exec 8>&2
say() {
  printf '%s\n' "$*" >&6
  printf '%s\n' "$*" >&7
}
reason() {
  printf '%s\n' "$*" >&8
}
fail() {
  reason "$@"
  exit 1
}

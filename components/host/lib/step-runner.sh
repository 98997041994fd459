# shellcheck shell=bash
# The step runner, a shell function: `run_step LABEL SCRIPT [ARGS]` runs SCRIPT with bash ($0 is
# LABEL, then ARGS), standard input passed on, and sorts what it prints:
# - what the script and the commands it runs print (fd 1 and 2) goes to a log, not to the
#   person: apt-get, pip, migrations, Gunicorn's log tail;
# - progress lines (`say`, fd 6) go to stderr as they come (the components stream stderr);
# - results (fd 7) go to stdout once the script succeeded;
# - on failure, stdout gets one line, `gunicorn-upstart: LABEL on HOST failed: REASON` (the
#   script's first `reason`, else its exit status and the log's last line), then the log's last
#   FAILURE_TAIL_LINES lines, each cut at FAILURE_LINE_CHARS characters. On stdout, so the engine
#   shows it once, in the error, and does not stream it as well.
# What the script left of standard input is read (the provider pipes a resource's stored stdin
# into its delete too; a session that exits with 2 MB of it unread fails with EOF).
# The program that sources this sets FAILURE_TAIL_LINES and FAILURE_LINE_CHARS.
# Safe under set -e (the helper's): no failure here ends the function before it has told why.
run_step() {
  local label=$1 script=$2 work status=0 why
  shift 2
  if ! work=$(mktemp -d 2>/dev/null); then
    # No room for a log: run it with its output as it comes.
    /bin/bash -c "$script" "$label" "$@" 6>&2 7>&1 8>&2 || status=$?
    cat >/dev/null || true
    return "$status"
  fi
  /bin/bash -c "$script" "$label" "$@" 6>&2 7>"$work/out" 8>"$work/reason" >"$work/log" 2>&1 || status=$?
  cat >/dev/null || true
  if [ "$status" -eq 0 ]; then
    cat -- "$work/out"
  else
    why=$(head -n 1 -- "$work/reason" || true)
    [ -n "$why" ] || why="exited with status $status: $(grep -v "^[[:space:]]*$" -- "$work/log" | tail -n 1 || true)"
    printf 'gunicorn-upstart: %s on %s failed: %s\n' "$label" "$(uname -n)" "$(printf '%s' "$why" | cut -c "1-$FAILURE_LINE_CHARS")"
    tail -n "$FAILURE_TAIL_LINES" -- "$work/log" | cut -c "1-$FAILURE_LINE_CHARS"
  fi
  rm -rf -- "$work"
  return "$status"
}

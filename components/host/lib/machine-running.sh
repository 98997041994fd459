# shellcheck shell=bash
# running: succeeds while the local machine in $DIR is up (its namespace's first process, whose
# PID the up script recorded, is alive).
running() {
  [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null
}

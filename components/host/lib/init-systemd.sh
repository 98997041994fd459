# shellcheck shell=bash
# The systemd side of the lifecycle: job_pid (the main PID while running, else empty),
# is_running, init_start, init_restart, init_reload, init_stop, init_status and init_log (for
# reports); every lib/init-*.sh has these functions, for its init. Needs JOB.
UNIT="$JOB.service"
job_pid() {
  local pid=''
  if systemctl is-active --quiet "$UNIT"; then
    pid=$(systemctl show -p MainPID "$UNIT" 2>/dev/null | cut -d = -f 2)
  fi
  if [ -n "$pid" ] && [ "$pid" != 0 ]; then echo "$pid"; fi
}
is_running() {
  systemctl is-active --quiet "$UNIT"
}
# A unit that hit its start limit refuses to start until reset, unlike an Upstart job.
init_prepare() {
  systemctl daemon-reload
  systemctl reset-failed "$UNIT" 2>/dev/null || true
}
init_start() {
  local out
  init_prepare
  if ! out=$(systemctl enable --now "$UNIT" 2>&1); then
    echo "systemctl enable --now $UNIT: $out" >&2
  fi
}
init_restart() {
  local out
  init_prepare
  systemctl enable "$UNIT" 2>/dev/null || true
  if ! out=$(systemctl restart "$UNIT" 2>&1); then
    echo "systemctl restart $UNIT: $out" >&2
  fi
}
init_reload() {
  systemctl reload "$UNIT"
}
init_stop() {
  systemctl disable --now "$UNIT" 2>/dev/null || systemctl stop "$UNIT" 2>/dev/null || true
}
init_status() {
  echo "systemctl show $UNIT: $(systemctl show -p ActiveState -p SubState -p Result -p MainPID -p NRestarts "$UNIT" 2>&1 | tr "\n" " " || true)"
}
# What the unit's own processes wrote to the journal (the launcher's errors, before Gunicorn
# has its log; a restarting unit repeats itself, said once); systemd's view is init_status.
init_log() {
  local lines
  lines=$(journalctl _SYSTEMD_UNIT="$UNIT" -n 4 --no-pager -o cat 2>/dev/null | uniq || true)
  if [ -n "$lines" ]; then
    echo "last lines $UNIT wrote to the journal:"
    printf "%s\n" "$lines"
  fi
}

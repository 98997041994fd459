# shellcheck shell=bash
# The Upstart side of the lifecycle: the functions of lib/init-systemd.sh, through initctl.
# Needs JOB.
# The main PID while the job is in a start/ state, empty otherwise.
job_pid() {
  { initctl status "$JOB" 2>/dev/null || true; } | sed -n "s/^.* start\/[a-z-]*, process \([0-9]*\).*$/\1/p"
}
is_running() {
  initctl status "$JOB" 2>/dev/null | grep -q " start/"
}
start_job() {
  local out
  if ! out=$(initctl start "$JOB" 2>&1); then
    echo "initctl start $JOB: $out" >&2
  fi
}
init_start() {
  initctl reload-configuration
  start_job
}
# Upstart's own restart keeps the old job definition; stop and start re-read it.
init_restart() {
  initctl reload-configuration
  initctl stop "$JOB" >/dev/null
  start_job
}
init_reload() {
  initctl reload "$JOB"
}
init_stop() {
  if is_running; then initctl stop "$JOB" >/dev/null; fi
}
init_status() {
  echo "initctl status: $(initctl status "$JOB" 2>&1 || true)"
}
# What the job printed before Gunicorn had its log (the launcher's errors): Upstart's
# console log, root's; a respawning job repeats itself, said once.
init_log() {
  if [ -s "/var/log/upstart/$JOB.log" ]; then
    echo "last lines of /var/log/upstart/$JOB.log:"
    tail -n 4 -- "/var/log/upstart/$JOB.log" | uniq
  fi
}

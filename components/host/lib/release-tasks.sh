# shellcheck shell=bash
# The release tasks: what runs for each new release after its pre-flight import and before
# `current` switches to it — `manage.py migrate --noinput`, `manage.py collectstatic --noinput`
# and the user's RELEASE_COMMANDS. Each runs as the app user (never root), in the new
# release, with the virtualenv's Python first on PATH and the app environment read from the
# Gunicorn config's raw_env (the one place it is kept), by release-task-driver.py. A task
# that fails fails the up with the last lines of its output, before anything switches: the
# running release keeps serving. Old code keeps serving while migrate changes the schema
# (and, in a fleet, while other hosts still run it): migrations must be backward compatible.
# Needs MIGRATE, COLLECT_STATIC, STATIC_DIR, RELEASE_COMMANDS, TASK_DRIVER, VIRTUALENV,
# CONFIG, APP_USER, APP_GROUP, and as_app_user, root_only_dir, say and fail.
# One task of release $1 as the app user: a progress line; its output goes to the step's log
# and, once it succeeded, its last lines to the step's output (kept, not streamed); on
# failure the up fails with them while the running release stays.
release_task() {
  local release=$1 label=$2 out status=0
  shift 2
  say "gunicorn-upstart: release $(basename -- "$release"): $label"
  out=$(as_app_user "$VIRTUALENV/bin/python" -c "$TASK_DRIVER" "$CONFIG" "$release" "$@" 2>&1) || status=$?
  if [ -n "$out" ]; then printf "%s\n" "$out" >&2; fi
  if [ "$status" != 0 ]; then
    fail "release $(basename -- "$release"): $label failed; the running release stays"
  fi
  if [ -n "$out" ]; then printf "%s\n" "$out" | tail -n 30 | sed "s/^/  /" >&7; fi
}
release_tasks() {
  local release=$1 command
  if [ -f "$release/manage.py" ]; then
    if [ -n "$MIGRATE" ]; then release_task "$release" "manage.py migrate" migrate; fi
    if [ -n "$COLLECT_STATIC" ]; then
      # The app user writes the static files; root makes their directory only where root
      # alone can change the path, as for the log directories.
      if [ -n "$STATIC_DIR" ] && [ ! -d "$STATIC_DIR" ]; then
        if root_only_dir "$STATIC_DIR" >/dev/null; then
          install -d -o "$APP_USER" -g "$APP_GROUP" -m 0755 -- "$STATIC_DIR"
        else
          as_app_user mkdir -p -- "$STATIC_DIR"
        fi
      fi
      release_task "$release" "manage.py collectstatic" collectstatic
    fi
  fi
  # (bash before 4.4 calls an empty array unbound under set -u: Ubuntu 14.04 has 4.3.)
  for command in ${RELEASE_COMMANDS[@]+"${RELEASE_COMMANDS[@]}"}; do
    release_task "$release" "$command" command "$command"
  done
}

#!/bin/bash
# Run as the app user in the project directory (with releases, the current one), with the app's
# virtualenv and environment (read from the Gunicorn config, which holds it): `sudo <job>-manage
# migrate`, `<job>-manage shell`, `<job>-manage createsuperuser`. Root drops to the app user
# before anything of the app runs; anyone else must be the app user already.
#
# The app user's code gets its own session, never root's terminal: in root's session, with
# root's terminal as its controlling terminal, manage.py (the app user's file) could push
# characters into root's input with TIOCSTI, which root's shell runs once the command ends, or
# take the terminal's foreground. On a terminal it gets a new one (runuser --pty, a pty that
# runuser relays; where util-linux is too old for it, script, which does the same); otherwise
# its own session (setsid) with its output through pipes, never a descriptor of root's
# terminal. Root's environment stays behind: the app user's starts empty but for its home, a
# plain PATH, the terminal type and the locale.
# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.
#
# Parameters (filled in by components/render/manageCommand.ts):
#   APP_USER    the app user manage.py runs as
#   CONFIG      the Gunicorn config, which holds the app environment
#   PROJECTDIR  where manage.py is
#   PYTHON      the virtualenv's python
#   LOADER      the Python that loads the environment and runs manage.py (manage-loader.py)
# @params
APP_USER=example
CONFIG=/etc/gunicorn/example.conf.py
PROJECTDIR=/srv/example
PYTHON=/srv/example/venv/bin/python
LOADER='import runpy; runpy.run_path("manage.py", run_name="__main__")'
# @end-params
set -euo pipefail
if [ "$(id -un)" != "$APP_USER" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "$(basename "$0"): run it as root (sudo) or as $APP_USER" >&2
    exit 1
  fi
  HOME=$(getent passwd "$APP_USER" | cut -d: -f6)
  clean_env=(env -i HOME="${HOME:-/}" USER="$APP_USER" LOGNAME="$APP_USER" PATH=/usr/local/bin:/usr/bin:/bin)
  for name in TERM LANG LC_ALL; do
    if [ -n "${!name:-}" ]; then clean_env+=("$name=${!name}"); fi
  done
  # Its own session: the app's code never shares root's terminal (see above).
  run_as_app=(runuser -u "$APP_USER" -- "${clean_env[@]}" "$0" "$@")
  if [ -t 0 ]; then
    # (Read whole, not with grep -q: under pipefail a closed pipe would read as no.)
    if [[ "$(runuser --help 2>&1 || true)" == *--pty* ]]; then
      exec runuser --pty -u "$APP_USER" -- "${clean_env[@]}" "$0" "$@"
    fi
    # Older util-linux: script(1) relays a new terminal the same way.
    if command -v script >/dev/null 2>&1; then
      exec script -qec "$(printf "%q " "${run_as_app[@]}")" /dev/null
    fi
    echo "$(basename "$0"): cannot give $APP_USER a terminal of its own here (no runuser --pty, no script); run it without a terminal (< /dev/null) or as $APP_USER" >&2
    exit 1
  fi
  # No terminal in: no terminal out either. Its output reaches root's terminal through pipes,
  # so no descriptor of root's terminal is ever the app's (a process it leaves behind could
  # read what root types next).
  exec 3>&2
  setsid --wait "${run_as_app[@]}" 2> >(cat >&3) | cat
  exit "${PIPESTATUS[0]}"
fi
cd "$PROJECTDIR"
exec "$PYTHON" -c "$LOADER" "$CONFIG" "$@"

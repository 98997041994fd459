#!/bin/bash
# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.
# Reloadable settings (workers, bind, log level, timeouts, app environment) live in $CONFIG.
set -e

# @params
LOGFILE=/var/log/example/gunicorn.log
LOGDIR=/var/log/example
USER=example
GROUP=example
VIRTUALENV=/srv/example/venv
PROJECTDIR=/srv/example
CONFIG=/etc/gunicorn/example.conf.py
EXTRA_ARGS=()
# @end-params

# shellcheck source=/dev/null
source "$VIRTUALENV/bin/activate"
cd "$PROJECTDIR"
test -d "$LOGDIR" || mkdir -p "$LOGDIR"
# Gunicorn and its stderr both append to the log, as in the recipe.
# shellcheck disable=SC2094
exec python manage.py run_gunicorn --config "$CONFIG" --user "$USER" --group "$GROUP" --log-file "$LOGFILE" "${EXTRA_ARGS[@]}" 2>>"$LOGFILE"

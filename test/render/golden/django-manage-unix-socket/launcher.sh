#!/bin/bash
# Launcher for the Upstart job django-project: runs Gunicorn in the app's virtualenv.
# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.
# Reloadable settings (workers, bind, log level, timeouts, app environment) live in $CONFIG.
set -e

LOGFILE='/home/user/logs/django-project-gunicorn.log'
LOGDIR='/home/user/logs'
USER='user'
GROUP='user'
VIRTUALENV='/home/user/.virtualenvs/django-project'
PROJECTDIR='/home/user/django-project'
CONFIG='/etc/gunicorn/django-project.conf.py'
EXTRA_ARGS=()

# shellcheck source=/dev/null
source "$VIRTUALENV/bin/activate"
cd "$PROJECTDIR"
test -d "$LOGDIR" || mkdir -p "$LOGDIR"
# Gunicorn and its stderr both append to the log, as in the recipe.
# shellcheck disable=SC2094
exec python manage.py run_gunicorn --config "$CONFIG" --user "$USER" --group "$GROUP" --log-file "$LOGFILE" "${EXTRA_ARGS[@]}" 2>>"$LOGFILE"

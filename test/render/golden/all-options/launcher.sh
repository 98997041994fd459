#!/bin/bash
# Launcher for the Upstart job shop: runs Gunicorn in the app's virtualenv.
# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.
# Reloadable settings (workers, bind, log level, timeouts, app environment) live in $CONFIG.
set -e

LOGFILE='/var/log/shop/gunicorn.log'
LOGDIR='/var/log/shop'
USER='shop'
GROUP='www-data'
VIRTUALENV='/srv/shop/venv'
PROJECTDIR='/srv/shop/current'
CONFIG='/etc/gunicorn/shop.py'
WSGI_APP='shop.wsgi:application'
EXTRA_ARGS=('--forwarded-allow-ips' '10.0.0.5' '--worker-class' 'gthread')

# shellcheck source=/dev/null
source "$VIRTUALENV/bin/activate"
cd "$PROJECTDIR"
test -d "$LOGDIR" || mkdir -p "$LOGDIR"
# Gunicorn and its stderr both append to the log, as in the recipe.
# shellcheck disable=SC2094
exec gunicorn --config "$CONFIG" --user "$USER" --group "$GROUP" --log-file "$LOGFILE" "${EXTRA_ARGS[@]}" "$WSGI_APP" 2>>"$LOGFILE"

#!/bin/bash
# The launcher of a process beside the web (a Celery worker, its beat): its Upstart job `exec`s
# it (or its systemd unit's ExecStart), as the app user. It runs the process's command from the
# project directory (with releases, the current one) in the app's virtualenv, with the app
# environment, which process-loader.py reads from the Gunicorn config.
# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.
set -e

# Parameters (filled in by components/render/processFiles.ts):
#   VIRTUALENV    the app's virtualenv (activated: its bin first on PATH)
#   PROJECTDIR    where the command runs
#   CONFIG        the Gunicorn config, which holds the app environment
#   STOP_TIMEOUT  seconds the command's main process has to stop after TERM
#   COMMAND       the command line, run by bash
#   LOADER        the Python that loads the environment and runs the command (process-loader.py)
# @params
VIRTUALENV=/srv/example/venv
PROJECTDIR=/srv/example
CONFIG=/etc/gunicorn/example.conf.py
STOP_TIMEOUT=60
# A command line for the app user's bash, expanded there, not here.
# shellcheck disable=SC2016
COMMAND='python -m celery -A mysite worker -l info'
LOADER=''
# @end-params

# shellcheck source=/dev/null
source "$VIRTUALENV/bin/activate"
cd "$PROJECTDIR"
exec "$VIRTUALENV/bin/python" -c "$LOADER" "$CONFIG" "$STOP_TIMEOUT" "$COMMAND"

#!/usr/bin/env bash
# The app's Python environment (the PythonEnv resource, `pythonEnv`): makes the virtualenv when
# it is missing (or when another interpreter made it) and installs the requirements, read from
# stdin, plus the extra packages (Gunicorn) into it. On failure, pip's last lines are the error.
#
# Parameters (filled in by components/render/hostScripts.ts):
#   VENV            the virtualenv's directory
#   PYTHON          the interpreter that makes it (a name on PATH or a path); its version is
#                   what triggers a rebuild
#   VENV_OPTIONS    options of `python -m venv` (--system-site-packages, or none)
#   PIP_OPTIONS     where pip finds packages: --index-url URL (a private index), and/or
#                   --no-index --find-links DIR (a wheelhouse on the host); none: PyPI
#   EXTRA_PACKAGES  packages installed besides the requirements (Gunicorn)
#   APP_USER        the app's user: where a user other than root can change the virtualenv's
#                   path, the virtualenv is made and pip runs as this user, never as root (root
#                   would run a planted bin/python); empty: such a virtualenv is refused
#   PYTHON_VERSION  the Python program that prints an interpreter's version
#                   (components/host/python-version.py)
# @params
VENV=/srv/app/venv
PYTHON=python3
VENV_OPTIONS=()
PIP_OPTIONS=()
EXTRA_PACKAGES=('gunicorn')
APP_USER=app
PYTHON_VERSION='import sys; print(sys.version.split()[0])'
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh
# shellcheck source=lib/root-only-tree.sh
. lib/root-only-tree.sh

# Arrays expand as ${A[@]+"${A[@]}"}: bash before 4.4 (Ubuntu 14.04 has 4.3) treats an empty
# array as unset under `set -u`.
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# Root runs the virtualenv's Python only where root alone can change the virtualenv: in a
# path another user can change, that user could plant bin/python and have root run it at the
# next requirements change; the same for anything in it (a root-owned virtualenv with the
# app user's bin/). There it is the app user that makes it and runs pip.
if unsafe=$(root_only_tree "$VENV"); then
  builder=root
  as_builder() { (cd / && "$@"); }
else
  [ -n "$APP_USER" ] || fail "refusing to build $VENV as root: $unsafe can be changed by a user other than root; put it under directories only root can change"
  builder=$APP_USER
  app_home=$(getent passwd "$APP_USER" | cut -d: -f6)
  as_builder() {
    (cd / && sudo -n -u "$APP_USER" -- env HOME="${app_home:-/}" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_NO_CACHE_DIR=1 "$@")
  }
fi
python_path=$(command -v "$PYTHON") || fail "no $PYTHON on the host"
# The interpreter runs as the builder too, and as root only where root alone can change it:
# a python3 the app user can replace would otherwise run as root at the next build.
if [ "$builder" = root ] && ! unsafe=$(root_only_dir "$python_path"); then
  fail "refusing to run $PYTHON as root: $unsafe can be changed by a user other than root; name a Python only root can change"
fi
want_version=$(as_builder "$python_path" -c "$PYTHON_VERSION")
have_version=$(as_builder "$VENV/bin/python" -c "$PYTHON_VERSION" 2>/dev/null || true)
if [ "$have_version" != "$want_version" ]; then
  [ -z "$have_version" ] || say "gunicorn-upstart: rebuilding $VENV for Python $want_version (was $have_version)"
  as_builder mkdir -p -- "$(dirname -- "$VENV")" || fail "cannot make $(dirname -- "$VENV") as $builder"
  as_builder rm -rf -- "$VENV"
  as_builder "$python_path" -m venv ${VENV_OPTIONS[@]+"${VENV_OPTIONS[@]}"} "$VENV" >&2 || fail "cannot make the virtualenv $VENV as $builder"
fi
# Old pips (Ubuntu 14.04 ships 1.5) know neither python_requires nor these options: upgrade
# them first, to the last pip that still runs on Python 3.4.
pip_major=$(as_builder "$VENV/bin/python" -m pip --version 2>/dev/null | sed -n "s/^pip \([0-9]*\).*/\1/p")
if [ -n "$pip_major" ] && [ "$pip_major" -lt 9 ]; then
  as_builder "$VENV/bin/python" -m pip install ${PIP_OPTIONS[@]+"${PIP_OPTIONS[@]}"} --upgrade "pip<19.2" >&2
fi
requirements=$(mktemp)
trap 'rm -f -- "$requirements"' EXIT
cat > "$requirements"
# Only the builder reads it (a private index's token may be in it).
[ "$builder" = root ] || chown -- "$builder" "$requirements"
say "gunicorn-upstart: pip install into $VENV (as $builder)"
if ! as_builder "$VENV/bin/python" -m pip install ${PIP_OPTIONS[@]+"${PIP_OPTIONS[@]}"} -r "$requirements" ${EXTRA_PACKAGES[@]+"${EXTRA_PACKAGES[@]}"} >&2; then
  fail "pip install into $VENV failed; its last lines:"
fi
say "gunicorn-upstart: $VENV ready with Python $want_version"
# shellcheck source=lib/run-id.sh
. lib/run-id.sh

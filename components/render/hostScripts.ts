import { shQuote, shQuoteAll } from "../shell";
import {
  ROOT_ONLY_DIR_FUNCTION,
  ROOT_ONLY_TREE_FUNCTION,
  RUN_ID_LINE,
  STEP_CHANNELS,
} from "./remoteScripts";

/** A directory the host setup makes when it is missing (existing ones are left as they are). */
/** OS packages a bare host needs for a virtualenv, by the init (i.e. the Ubuntu release). */
export const DEFAULT_HOST_PACKAGES = {
  upstart: ["python3", "python3.4-venv"],
  systemd: ["python3", "python3-venv"],
} as const;

/** What `nginx: true` adds to them: nginx, and openssl for a self-signed certificate. */
export const NGINX_PACKAGES = ["nginx", "openssl"] as const;

export interface DirSpec {
  path: string;
  owner: string;
  group: string;
  mode: string;
}

/** What the host needs before the service's files can be written. */
export interface HostSetupSpec {
  /** Service user and group, created as a system account without a login shell when missing. */
  user: string;
  group: string;
  /** The user's home when it has to be created. */
  home: string;
  /** OS packages to install with apt-get when missing. */
  packages: string[];
  /** Directories to create when missing. */
  directories: DirSpec[];
  /** Wait for cloud-init to finish first (a fresh instance may still be running apt). */
  waitForCloudInit: boolean;
}

/**
 * Prepares a host: waits for cloud-init, installs missing packages (apt-get only when something
 * is missing, so a prepared host needs no network), creates the group, the user and the
 * directories when missing. Idempotent; never deletes, never re-owns what exists.
 */
export function renderHostSetupScript(spec: HostSetupSpec): string {
  const dirs = spec.directories.map(
    (d) => `make_dir ${shQuoteAll([d.path, d.owner, d.group, d.mode])}`,
  );
  return [
    "set -euo pipefail",
    ...STEP_CHANNELS,
    `SERVICE_USER=${shQuote(spec.user)}`,
    `SERVICE_GROUP=${shQuote(spec.group)}`,
    `SERVICE_HOME=${shQuote(spec.home)}`,
    `PACKAGES=(${shQuoteAll(spec.packages)})`,
    `WAIT_CLOUD_INIT=${spec.waitForCloudInit ? 1 : 0}`,
    "",
    "# A fresh instance runs cloud-init (and apt) for a while after SSH answers.",
    'if [ "$WAIT_CLOUD_INIT" = 1 ] && [ -d /var/lib/cloud/instance ]; then',
    "  if cloud-init status --help >/dev/null 2>&1; then",
    "    cloud-init status --wait >/dev/null || true",
    "  else",
    "    for _ in $(seq 600); do [ -e /var/lib/cloud/instance/boot-finished ] && break; sleep 1; done",
    "  fi",
    "fi",
    "",
    "missing=()",
    'for p in ${PACKAGES[@]+"${PACKAGES[@]}"}; do',
    '  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")',
    "done",
    'if [ "${#missing[@]}" -gt 0 ]; then',
    '  say "gunicorn-upstart: installing ${missing[*]}"',
    "  export DEBIAN_FRONTEND=noninteractive",
    "  apt-get update -q >&2",
    "  # nginx installed now starts with nothing: Debian's package would start it at once with",
    "  # its welcome site as the default server on port 80; the service's own site starts it.",
    "  new_nginx='' own_policy=''",
    '  if printf "%s\\n" "${missing[@]}" | grep -qx nginx; then',
    "    new_nginx=1",
    "    # (A policy-rc.d already there, as in containers, is left as it is.)",
    "    if [ ! -e /usr/sbin/policy-rc.d ]; then",
    "      own_policy=1",
    "      printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d",
    "      chmod 0755 /usr/sbin/policy-rc.d",
    "    fi",
    "  fi",
    '  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then',
    '    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d',
    '    fail "apt-get install ${missing[*]} failed; its last lines:"',
    "  fi",
    '  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d',
    '  if [ -n "$new_nginx" ]; then',
    "    rm -f /etc/nginx/sites-enabled/default",
    '    say "gunicorn-upstart: disabled nginx\'s default site (a fresh install)"',
    "  fi",
    "fi",
    "",
    'if ! getent group "$SERVICE_GROUP" >/dev/null; then',
    '  groupadd --system "$SERVICE_GROUP"',
    '  say "gunicorn-upstart: created group $SERVICE_GROUP"',
    "fi",
    'if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then',
    '  useradd --system --gid "$SERVICE_GROUP" --home-dir "$SERVICE_HOME" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"',
    '  say "gunicorn-upstart: created user $SERVICE_USER"',
    "fi",
    "",
    ...ROOT_ONLY_DIR_FUNCTION,
    "# Root makes a directory (and gives it away) only where root alone can change the path: in",
    "# a directory of another user's, that user could swap the name for a link to /etc between",
    "# the test and the install, and root would hand /etc over. There the directory is made by",
    "# the user who owns that parent, when it is the one it is for; anything else is refused.",
    "make_dir() {",
    "  local unsafe parent",
    '  [ -d "$1" ] && return 0',
    '  if unsafe=$(root_only_dir "$1"); then',
    '    install -d -o "$2" -g "$3" -m "$4" -- "$1"',
    "  else",
    "    parent=$1",
    '    while [ ! -e "$parent" ]; do parent=$(dirname -- "$parent"); done',
    '    if [ "$(stat -c %U -- "$parent")" != "$2" ] || [ "$2" = root ]; then',
    '      fail "refusing to make $1 as root: $unsafe can be changed by a user other than root, who could swap it for a link; make it yourself, or choose a place under directories only root can change"',
    "    fi",
    '    (cd / && sudo -n -u "$2" -- mkdir -p -m "$4" -- "$1")',
    '    (cd / && sudo -n -u "$2" -- chgrp -- "$3" "$1") || say "gunicorn-upstart: $1 keeps the group of $2 (not a member of $3)"',
    "  fi",
    '  say "gunicorn-upstart: created $1"',
    "}",
    ...dirs,
    "",
  ].join("\n");
}

/** The app's Python environment. */
export interface PythonEnvSpec {
  virtualenv: string;
  /**
   * The app's user: where another user than root can change the virtualenv's path, the
   * virtualenv is made and pip runs as this user, never as root (root would run a planted
   * `bin/python`). Unset: such a virtualenv is refused.
   */
  user?: string;
  /** The interpreter that makes the virtualenv (its version is part of what triggers a rebuild). */
  python: string;
  systemSitePackages: boolean;
  /** Packages installed besides the requirements file (Gunicorn). */
  packages: string[];
  /** pip's --index-url, for a private index. */
  indexUrl?: string;
  /** pip's --find-links + --no-index: a wheelhouse directory on the host, no index at all. */
  wheelhouse?: string;
}

/**
 * Makes the virtualenv when missing (or when it was made by another interpreter) and installs
 * the requirements from stdin plus Gunicorn into it. On failure, pip's last lines are the error.
 */
// Arrays expand as ${A[@]+"${A[@]}"}: bash before 4.4 (Ubuntu 14.04 has 4.3) treats an empty
// array as unset under `set -u`.
export function renderPythonEnvScript(spec: PythonEnvSpec): string {
  const pipOptions = [
    ...(spec.indexUrl !== undefined ? ["--index-url", spec.indexUrl] : []),
    ...(spec.wheelhouse !== undefined ? ["--no-index", "--find-links", spec.wheelhouse] : []),
  ];
  return [
    "set -euo pipefail",
    ...STEP_CHANNELS,
    `VENV=${shQuote(spec.virtualenv)}`,
    `PYTHON=${shQuote(spec.python)}`,
    `VENV_OPTIONS=(${spec.systemSitePackages ? "--system-site-packages" : ""})`,
    `PIP_OPTIONS=(${shQuoteAll(pipOptions)})`,
    `EXTRA_PACKAGES=(${shQuoteAll(spec.packages)})`,
    "",
    `APP_USER=${shQuote(spec.user ?? "")}`,
    ...ROOT_ONLY_TREE_FUNCTION,
    "export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1",
    "# Root runs the virtualenv's Python only where root alone can change the virtualenv: in a",
    "# path another user can change, that user could plant bin/python and have root run it at the",
    "# next requirements change; the same for anything in it (a root-owned virtualenv with the",
    "# app user's bin/). There it is the app user that makes it and runs pip.",
    'if unsafe=$(root_only_tree "$VENV"); then',
    "  builder=root",
    '  as_builder() { (cd / && "$@"); }',
    "else",
    '  [ -n "$APP_USER" ] || fail "refusing to build $VENV as root: $unsafe can be changed by a user other than root; put it under directories only root can change"',
    "  builder=$APP_USER",
    '  app_home=$(getent passwd "$APP_USER" | cut -d: -f6)',
    "  as_builder() {",
    '    (cd / && sudo -n -u "$APP_USER" -- env HOME="${app_home:-/}" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_NO_CACHE_DIR=1 "$@")',
    "  }",
    "fi",
    'python_path=$(command -v "$PYTHON") || fail "no $PYTHON on the host"',
    "# The interpreter runs as the builder too, and as root only where root alone can change it:",
    "# a python3 the app user can replace would otherwise run as root at the next build.",
    'if [ "$builder" = root ] && ! unsafe=$(root_only_dir "$python_path"); then',
    '  fail "refusing to run $PYTHON as root: $unsafe can be changed by a user other than root; name a Python only root can change"',
    "fi",
    'want_version=$(as_builder "$python_path" -c "import sys; print(sys.version.split()[0])")',
    'have_version=$(as_builder "$VENV/bin/python" -c "import sys; print(sys.version.split()[0])" 2>/dev/null || true)',
    'if [ "$have_version" != "$want_version" ]; then',
    '  [ -z "$have_version" ] || say "gunicorn-upstart: rebuilding $VENV for Python $want_version (was $have_version)"',
    '  as_builder mkdir -p -- "$(dirname -- "$VENV")" || fail "cannot make $(dirname -- "$VENV") as $builder"',
    '  as_builder rm -rf -- "$VENV"',
    '  as_builder "$python_path" -m venv ${VENV_OPTIONS[@]+"${VENV_OPTIONS[@]}"} "$VENV" >&2 || fail "cannot make the virtualenv $VENV as $builder"',
    "fi",
    "# Old pips (Ubuntu 14.04 ships 1.5) know neither python_requires nor these options: upgrade",
    "# them first, to the last pip that still runs on Python 3.4.",
    'pip_major=$(as_builder "$VENV/bin/python" -m pip --version 2>/dev/null | sed -n "s/^pip \\([0-9]*\\).*/\\1/p")',
    'if [ -n "$pip_major" ] && [ "$pip_major" -lt 9 ]; then',
    '  as_builder "$VENV/bin/python" -m pip install ${PIP_OPTIONS[@]+"${PIP_OPTIONS[@]}"} --upgrade "pip<19.2" >&2',
    "fi",
    "requirements=$(mktemp)",
    "trap 'rm -f -- \"$requirements\"' EXIT",
    'cat > "$requirements"',
    "# Only the builder reads it (a private index's token may be in it).",
    '[ "$builder" = root ] || chown -- "$builder" "$requirements"',
    'say "gunicorn-upstart: pip install into $VENV (as $builder)"',
    'if ! as_builder "$VENV/bin/python" -m pip install ${PIP_OPTIONS[@]+"${PIP_OPTIONS[@]}"} -r "$requirements" ${EXTRA_PACKAGES[@]+"${EXTRA_PACKAGES[@]}"} >&2; then',
    '  fail "pip install into $VENV failed; its last lines:"',
    "fi",
    'say "gunicorn-upstart: $VENV ready with Python $want_version"',
    RUN_ID_LINE,
    "",
  ].join("\n");
}

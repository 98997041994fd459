# Sourced by toolchain.sh and pulumi.sh: where the toolchain's builds and Pulumi's plugins
# live, outside the repo. GUNICORN_UPSTART_CACHE and PULUMI_HOME override.
# shellcheck shell=bash
cache=${GUNICORN_UPSTART_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gunicorn-upstart}
export PULUMI_HOME=${PULUMI_HOME:-$cache/pulumi-home}

#!/usr/bin/env bash
# The nginx site's delete (run as root over SSH): removes this service's site and reloads nginx
# (when it runs and accepts what is left); a certificate made here (self-signed) goes too. Files
# of `tls: files` are the user's and stay.
#
# Parameters (filled in by components/render/nginxScripts.ts):
#   JOB       the service's job
#   SITE      this service's file: its own site, or its locations mounted on MOUNT_ON's site
#   MOUNT_ON  the job whose site this one's locations mount on; empty: its own site
#   TLS       off, self-signed or files
#   CERT, KEY the certificate and key files (removed when self-signed, on its own site)
# @params
JOB=example
SITE=/etc/nginx/conf.d/gunicorn-example.conf
MOUNT_ON=''
TLS=off
CERT=/etc/gunicorn-upstart/tls/example.crt
KEY=/etc/gunicorn-upstart/tls/example.key
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh
# shellcheck source=lib/nginx-control.sh
. lib/nginx-control.sh
rm -f -- "$SITE"
if [ -z "$MOUNT_ON" ] && [ "$TLS" = self-signed ]; then rm -f -- "$CERT" "$KEY"; fi
if command -v nginx >/dev/null 2>&1 && nginx_running; then
  if out=$(nginx -t 2>&1); then
    nginx_reload
  else
    say "gunicorn-upstart: removed the nginx site of $JOB, but nginx refuses what is left, so it was not reloaded: $(printf "%s\n" "$out" | grep -m 1 "emerg" || printf "%s\n" "$out" | tail -n 1)"
  fi
fi
say "gunicorn-upstart: removed the nginx site of $JOB"

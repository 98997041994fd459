#!/usr/bin/env bash
# The nginx site's apply (run as root over SSH): installs or updates this service's site from
# standard input (with a self-signed certificate made first when asked), checks it with
# `nginx -t`, reloads nginx gracefully and checks the service's health through it.
#
# Refused by `nginx -t`, the previous site is put back (nginx never reloads a configuration it
# refuses) and the `up` fails with nginx's words. After the reload, the health path must answer
# through nginx (HTTPS with tls, whose plain HTTP port must redirect) within START_TIMEOUT;
# otherwise the previous site comes back too. Prints the certificate (public) for the
# component's `tlsCertificate` output, as a result (stdout), which the component does not
# stream. nginx is driven through systemd where systemd runs, else directly.
#
# Parameters (filled in by components/render/nginxScripts.ts):
#   JOB                the service's job
#   SITE               this service's file: its own site, or its locations mounted on another
#                      job's site (MOUNT_ON)
#   MOUNT_ON           the job whose site this one's locations mount on; empty: its own site
#   HOST_SITE          that job's site file (it must be here); empty without MOUNT_ON
#   TLS                off, self-signed or files
#   CERT, KEY          the certificate and key files nginx serves (made here when self-signed)
#   HOST_HEADER        the Host header (and the self-signed certificate's CN) the check uses
#   SNI                the TLS server name the check sends; empty for a catch-all site
#   SUBJECT_ALT_NAMES  the self-signed certificate's subjectAltName (DNS:a,DNS:b or IP:...)
#   HTTP_PORT          nginx's plain HTTP port
#   HTTPS_PORT         nginx's HTTPS port (with TLS)
#   HEALTH_PATH        the path checked through nginx (under the URL prefix)
#   HEALTHY_BELOW      a status below this is healthy
#   START_TIMEOUT      seconds the check may take
#   ACME               the ACME challenge webroot the site serves
# @params
JOB=example
SITE=/etc/nginx/conf.d/gunicorn-example.conf
MOUNT_ON=''
HOST_SITE=''
TLS=off
CERT=/etc/gunicorn-upstart/tls/example.crt
KEY=/etc/gunicorn-upstart/tls/example.key
HOST_HEADER=127.0.0.1
SNI=''
SUBJECT_ALT_NAMES=DNS:localhost,IP:127.0.0.1
HTTP_PORT=80
HTTPS_PORT=443
HEALTH_PATH=/
HEALTHY_BELOW=400
START_TIMEOUT=30
ACME=/var/www/acme
# @end-params
set -euo pipefail
# shellcheck source=lib/step-channels.sh
. lib/step-channels.sh
# shellcheck source=lib/nginx-control.sh
. lib/nginx-control.sh
# shellcheck source=lib/root-only-dir.sh
. lib/root-only-dir.sh
if ! command -v nginx >/dev/null 2>&1; then
  cat > /dev/null
  fail "nginx is not installed on this host: prepareHost installs it with nginx on, or apt-get install nginx"
fi
# Root writes the site, the certificate, the key and the ACME directory only where root alone
# can change the path (a link swapped in would make root write, chmod, or nginx read a file
# of someone else's).
for dir in "$(dirname -- "$SITE")" "$(dirname -- "$CERT")" "$(dirname -- "$KEY")" "$ACME"; do
  if ! unsafe=$(root_only_dir "$dir"); then
    cat > /dev/null
    fail "refusing the nginx site of $JOB: $unsafe can be changed by a user other than root"
  fi
done
mkdir -p -- "$(dirname -- "$SITE")"
# Made when missing; an existing directory keeps its owner and mode (it may be the host's).
[ -d "$ACME" ] || install -d -m 0755 -- "$ACME"
# Mounted on another job's site: that site must be here (it has the server and its TLS).
if [ -n "$MOUNT_ON" ] && [ ! -f "$HOST_SITE" ]; then
  cat > /dev/null
  fail "$JOB mounts on the nginx site of $MOUNT_ON, which is not on this host ($HOST_SITE): deploy $MOUNT_ON with nginx first (lifecycleAfter: its nginxSite)"
fi

# A self-signed certificate, made once (kept across ups: clients that trust it keep doing so).
if [ -z "$MOUNT_ON" ] && [ "$TLS" = self-signed ] && ! { [ -s "$CERT" ] && [ -s "$KEY" ]; }; then
  [ -d "$(dirname -- "$CERT")" ] || install -d -m 0755 -- "$(dirname -- "$CERT")"
  [ -d "$(dirname -- "$KEY")" ] || install -d -m 0700 -- "$(dirname -- "$KEY")"
  work=$(mktemp -d "$(dirname -- "$KEY")/.tls.XXXXXXXX")
  # The names go into the certificate's subjectAltName (clients check those, not the CN);
  # a config file rather than -addext, which OpenSSL before 1.1.1 (Ubuntu 14.04) lacks.
  printf "[req]\ndistinguished_name = dn\n[dn]\n[san]\nsubjectAltName = %s\nbasicConstraints = critical,CA:TRUE\n" "$SUBJECT_ALT_NAMES" > "$work/openssl.cnf"
  if ! (umask 077; openssl req -x509 -nodes -newkey rsa:2048 -sha256 -days 825 -subj "/CN=$HOST_HEADER" -config "$work/openssl.cnf" -extensions san -keyout "$work/key" -out "$work/cert") >&2 2>&1; then
    rm -rf -- "$work"
    cat > /dev/null
    fail "making a self-signed certificate failed"
  fi
  chmod 0600 "$work/key"
  chmod 0644 "$work/cert"
  mv -f -- "$work/key" "$KEY"
  mv -f -- "$work/cert" "$CERT"
  rm -rf -- "$work"
  say "gunicorn-upstart: made a self-signed certificate for $SUBJECT_ALT_NAMES"
fi

# The new site replaces the old only once nginx accepts it.
tmp=$(mktemp "$(dirname -- "$SITE")/.$(basename -- "$SITE").XXXXXXXX")
previous="$tmp.previous"
trap 'rm -f -- "$tmp" "$previous"' EXIT
cat > "$tmp"
chmod 0644 "$tmp"
had_site=""
if [ -f "$SITE" ]; then cp -p -- "$SITE" "$previous"; had_site=1; fi
restore_site() {
  if [ -n "$had_site" ]; then mv -f -- "$previous" "$SITE"; else rm -f -- "$SITE"; fi
}
mv -f -- "$tmp" "$SITE"
if ! out=$(nginx -t 2>&1); then
  restore_site
  printf "%s\n" "$out" >&2
  if printf "%s" "$out" | grep -q "duplicate default server"; then
    echo "another site is the default server of that port (Debian's own: rm /etc/nginx/sites-enabled/default), or give this one a serverName" >&2
  fi
  fail "nginx refuses the site of $JOB; the previous one stays:"
fi
nginx_reload

# The health path through nginx; empty when nothing answers.
http_status() {
  local line=''
  if exec 3<>"/dev/tcp/127.0.0.1/$1"; then
    printf "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: gunicorn-upstart health gate\r\n\r\n" "$2" "$HOST_HEADER" >&3
    IFS=' ' read -r -t 10 _ line _ <&3 || true
    exec 3<&-
  fi 2>/dev/null
  echo "$line"
}
https_status() {
  local line
  line=$(printf "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: gunicorn-upstart health gate\r\n\r\n" "$HEALTH_PATH" "$HOST_HEADER" |
    timeout 10 openssl s_client -quiet -connect "127.0.0.1:$HTTPS_PORT" ${SNI:+-servername "$SNI"} 2>/dev/null | head -n 1) || true
  echo "$line" | cut -d ' ' -f 2
}
deadline=$((SECONDS + START_TIMEOUT))
while :; do
  if [ "$TLS" = off ]; then
    status=$(http_status "$HTTP_PORT" "$HEALTH_PATH")
    problem="GET $HEALTH_PATH through nginx on port $HTTP_PORT answered ${status:-nothing}"
    { [ "$status" -lt "$HEALTHY_BELOW" ]; } 2>/dev/null && break
  else
    status=$(https_status)
    redirect=$(http_status "$HTTP_PORT" "$HEALTH_PATH")
    problem="GET $HEALTH_PATH through nginx on port $HTTPS_PORT (HTTPS) answered ${status:-nothing}, on port $HTTP_PORT ${redirect:-nothing} (a redirect expected)"
    { [ "$status" -lt "$HEALTHY_BELOW" ] && [ "$redirect" = 301 ]; } 2>/dev/null && break
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    reason "nginx does not serve $JOB within ${START_TIMEOUT}s: $problem"
    echo "last lines of /var/log/nginx/error.log:" >&2
    tail -n 10 /var/log/nginx/error.log >&2 2>/dev/null || true
    restore_site
    if nginx -t >/dev/null 2>&1; then nginx_reload || true; fi
    echo "gunicorn-upstart: put the previous nginx site of $JOB back" >&2
    exit 1
  fi
  sleep 0.5
done
say "gunicorn-upstart: nginx serves $JOB ($problem)"
# The certificate (public) for the tlsCertificate output: the site's own, not a mount's. A
# result: the command's output has it, the person watching the up does not get it streamed.
[ "$TLS" = off ] || [ -n "$MOUNT_ON" ] || cat -- "$CERT" >&7
# shellcheck source=lib/run-id.sh
. lib/run-id.sh

import type { ServiceSpec } from "../spec";
import { shQuote } from "../shell";
import { ACME_WEBROOT, nginxFilePath, nginxSitePath } from "./nginxSite";
import { ROOT_ONLY_DIR_FUNCTION, RUN_ID_LINE, STEP_CHANNELS } from "./remoteScripts";

/**
 * The scripts of the nginx site (run as root over SSH): install it (with a self-signed
 * certificate made first when asked), check it with `nginx -t`, reload nginx gracefully, and
 * check the service's health through it; remove it on destroy. nginx is driven through systemd
 * where systemd runs, else directly (Ubuntu 14.04's nginx is a SysV service, and the test's
 * Upstart stand-in host has no init for it).
 */

/** The site's apply, in words, for the line that says it failed. */
export function nginxApplyLabel(spec: ServiceSpec): string {
  return `the nginx site of ${spec.job}`;
}

/** The site's removal, in words. */
export function nginxRemoveLabel(spec: ServiceSpec): string {
  return `removing the nginx site of ${spec.job}`;
}

/** The Host header (and TLS server name) the check through nginx uses. */
export function siteHost(spec: ServiceSpec): string {
  if (spec.healthCheckHost !== undefined) return spec.healthCheckHost;
  if (spec.serverName === "_") return "127.0.0.1";
  return (spec.serverName.split(" ")[0] as string).replace(/^\*\./, "www.");
}

function prelude(spec: ServiceSpec): string[] {
  return [
    "set -euo pipefail",
    ...STEP_CHANNELS,
    'PATH="$PATH:/usr/sbin:/sbin"',
    `JOB=${shQuote(spec.job)}`,
    // This service's file: its own site, or its locations mounted on another job's site.
    `SITE=${shQuote(nginxFilePath(spec))}`,
    `MOUNT_ON=${shQuote(spec.nginxMountOn ?? "")}`,
    `TLS=${shQuote(spec.tls)}`,
    `CERT=${shQuote(spec.tlsCertificateFile)}`,
    `KEY=${shQuote(spec.tlsKeyFile)}`,
    "# One change to the host's nginx at a time: the engine runs two services' site steps at",
    "# once (two deletes on destroy), and a reload that reads another site half removed (its key",
    "# gone, its file not yet) fails. Root's lock, in a directory only root can change.",
    "mkdir -p /var/lib/gunicorn-upstart",
    "exec 5>>/var/lib/gunicorn-upstart/nginx.lock",
    "flock 5",
    "# Is nginx running? Through systemd where it is the init, else by its pid file.",
    "under_systemd() {",
    "  [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1",
    "}",
    "nginx_running() {",
    "  if under_systemd; then",
    "    systemctl is-active --quiet nginx",
    "  else",
    '    [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null',
    "  fi",
    "}",
    "# A graceful reload: new workers with the new sites, old ones finish their requests. A",
    "# stopped nginx is started (without the step runner's channels or the lock: nginx would",
    "# hold them, and the SSH session or the lock, open).",
    "nginx_reload() {",
    "  if under_systemd; then",
    "    systemctl enable nginx >/dev/null 2>&1 || true",
    "    systemctl reload-or-restart nginx",
    "  elif nginx_running; then",
    "    nginx -s reload",
    "  else",
    "    nginx 5>&- 6>&- 7>&- 8>&-",
    "  fi",
    "}",
  ];
}

/**
 * Installs or updates the site from standard input. Refused by `nginx -t`, the previous site
 * is put back (nginx never reloads a configuration it refuses) and the `up` fails with nginx's
 * words. After the reload, the health path must answer through nginx (HTTPS with tls, whose
 * plain HTTP port must redirect) within `startTimeout`; otherwise the previous site comes back
 * too. Prints the certificate (public) for the component's `tlsCertificate` output, as a
 * result (stdout), which the component does not stream.
 */
export function renderNginxApplyScript(spec: ServiceSpec): string {
  const cn = siteHost(spec);
  const names =
    spec.serverName === "_"
      ? ["DNS:localhost", "IP:127.0.0.1"]
      : spec.serverName.split(" ").map((n) => `DNS:${n}`);
  const sni = spec.serverName === "_" ? "" : cn;
  return [
    ...prelude(spec),
    `HOST_HEADER=${shQuote(cn)}`,
    `SNI=${shQuote(sni)}`,
    `SUBJECT_ALT_NAMES=${shQuote(names.join(","))}`,
    `HTTP_PORT=${spec.httpPort}`,
    `HTTPS_PORT=${spec.httpsPort}`,
    `HEALTH_PATH=${shQuote(`${spec.urlPrefix ?? ""}${spec.healthCheckPath}`)}`,
    `HEALTHY_BELOW=${spec.healthyStatusBelow}`,
    `START_TIMEOUT=${spec.startTimeout}`,
    `ACME=${shQuote(ACME_WEBROOT)}`,
    ...ROOT_ONLY_DIR_FUNCTION,
    "if ! command -v nginx >/dev/null 2>&1; then",
    "  cat > /dev/null",
    '  fail "nginx is not installed on this host: prepareHost installs it with nginx on, or apt-get install nginx"',
    "fi",
    "# Root writes the site, the certificate, the key and the ACME directory only where root alone",
    "# can change the path (a link swapped in would make root write, chmod, or nginx read a file",
    "# of someone else's).",
    'for dir in "$(dirname -- "$SITE")" "$(dirname -- "$CERT")" "$(dirname -- "$KEY")" "$ACME"; do',
    '  if ! unsafe=$(root_only_dir "$dir"); then',
    "    cat > /dev/null",
    '    fail "refusing the nginx site of $JOB: $unsafe can be changed by a user other than root"',
    "  fi",
    "done",
    'mkdir -p -- "$(dirname -- "$SITE")"',
    "# Made when missing; an existing directory keeps its owner and mode (it may be the host's).",
    '[ -d "$ACME" ] || install -d -m 0755 -- "$ACME"',
    "# Mounted on another job's site: that site must be here (it has the server and its TLS).",
    `HOST_SITE=${shQuote(spec.nginxMountOn !== undefined ? nginxSitePath({ ...spec, job: spec.nginxMountOn }) : "")}`,
    'if [ -n "$MOUNT_ON" ] && [ ! -f "$HOST_SITE" ]; then',
    "  cat > /dev/null",
    '  fail "$JOB mounts on the nginx site of $MOUNT_ON, which is not on this host ($HOST_SITE): deploy $MOUNT_ON with nginx first (lifecycleAfter: its nginxSite)"',
    "fi",
    "",
    "# A self-signed certificate, made once (kept across ups: clients that trust it keep doing so).",
    'if [ -z "$MOUNT_ON" ] && [ "$TLS" = self-signed ] && ! { [ -s "$CERT" ] && [ -s "$KEY" ]; }; then',
    '  [ -d "$(dirname -- "$CERT")" ] || install -d -m 0755 -- "$(dirname -- "$CERT")"',
    '  [ -d "$(dirname -- "$KEY")" ] || install -d -m 0700 -- "$(dirname -- "$KEY")"',
    '  work=$(mktemp -d "$(dirname -- "$KEY")/.tls.XXXXXXXX")',
    "  # The names go into the certificate's subjectAltName (clients check those, not the CN);",
    "  # a config file rather than -addext, which OpenSSL before 1.1.1 (Ubuntu 14.04) lacks.",
    '  printf "[req]\\ndistinguished_name = dn\\n[dn]\\n[san]\\nsubjectAltName = %s\\nbasicConstraints = critical,CA:TRUE\\n" "$SUBJECT_ALT_NAMES" > "$work/openssl.cnf"',
    '  if ! (umask 077; openssl req -x509 -nodes -newkey rsa:2048 -sha256 -days 825 -subj "/CN=$HOST_HEADER" -config "$work/openssl.cnf" -extensions san -keyout "$work/key" -out "$work/cert") >&2 2>&1; then',
    '    rm -rf -- "$work"',
    "    cat > /dev/null",
    '    fail "making a self-signed certificate failed"',
    "  fi",
    '  chmod 0600 "$work/key"',
    '  chmod 0644 "$work/cert"',
    '  mv -f -- "$work/key" "$KEY"',
    '  mv -f -- "$work/cert" "$CERT"',
    '  rm -rf -- "$work"',
    '  say "gunicorn-upstart: made a self-signed certificate for $SUBJECT_ALT_NAMES"',
    "fi",
    "",
    "# The new site replaces the old only once nginx accepts it.",
    'tmp=$(mktemp "$(dirname -- "$SITE")/.$(basename -- "$SITE").XXXXXXXX")',
    'previous="$tmp.previous"',
    'trap \'rm -f -- "$tmp" "$previous"\' EXIT',
    'cat > "$tmp"',
    'chmod 0644 "$tmp"',
    'had_site=""',
    'if [ -f "$SITE" ]; then cp -p -- "$SITE" "$previous"; had_site=1; fi',
    "restore_site() {",
    '  if [ -n "$had_site" ]; then mv -f -- "$previous" "$SITE"; else rm -f -- "$SITE"; fi',
    "}",
    'mv -f -- "$tmp" "$SITE"',
    "if ! out=$(nginx -t 2>&1); then",
    "  restore_site",
    '  printf "%s\\n" "$out" >&2',
    '  if printf "%s" "$out" | grep -q "duplicate default server"; then',
    '    echo "another site is the default server of that port (Debian\'s own: rm /etc/nginx/sites-enabled/default), or give this one a serverName" >&2',
    "  fi",
    '  fail "nginx refuses the site of $JOB; the previous one stays:"',
    "fi",
    "nginx_reload",
    "",
    "# The health path through nginx; empty when nothing answers.",
    "http_status() {",
    "  local line=''",
    '  if exec 3<>"/dev/tcp/127.0.0.1/$1"; then',
    '    printf "GET %s HTTP/1.0\\r\\nHost: %s\\r\\nUser-Agent: gunicorn-upstart health gate\\r\\n\\r\\n" "$2" "$HOST_HEADER" >&3',
    "    IFS=' ' read -r -t 10 _ line _ <&3 || true",
    "    exec 3<&-",
    "  fi 2>/dev/null",
    '  echo "$line"',
    "}",
    "https_status() {",
    "  local line",
    '  line=$(printf "GET %s HTTP/1.0\\r\\nHost: %s\\r\\nUser-Agent: gunicorn-upstart health gate\\r\\n\\r\\n" "$HEALTH_PATH" "$HOST_HEADER" |',
    '    timeout 10 openssl s_client -quiet -connect "127.0.0.1:$HTTPS_PORT" ${SNI:+-servername "$SNI"} 2>/dev/null | head -n 1) || true',
    "  echo \"$line\" | cut -d ' ' -f 2",
    "}",
    "deadline=$((SECONDS + START_TIMEOUT))",
    "while :; do",
    '  if [ "$TLS" = off ]; then',
    '    status=$(http_status "$HTTP_PORT" "$HEALTH_PATH")',
    '    problem="GET $HEALTH_PATH through nginx on port $HTTP_PORT answered ${status:-nothing}"',
    '    { [ "$status" -lt "$HEALTHY_BELOW" ]; } 2>/dev/null && break',
    "  else",
    "    status=$(https_status)",
    '    redirect=$(http_status "$HTTP_PORT" "$HEALTH_PATH")',
    '    problem="GET $HEALTH_PATH through nginx on port $HTTPS_PORT (HTTPS) answered ${status:-nothing}, on port $HTTP_PORT ${redirect:-nothing} (a redirect expected)"',
    '    { [ "$status" -lt "$HEALTHY_BELOW" ] && [ "$redirect" = 301 ]; } 2>/dev/null && break',
    "  fi",
    '  if [ "$SECONDS" -ge "$deadline" ]; then',
    '    reason "nginx does not serve $JOB within ${START_TIMEOUT}s: $problem"',
    '    echo "last lines of /var/log/nginx/error.log:" >&2',
    "    tail -n 10 /var/log/nginx/error.log >&2 2>/dev/null || true",
    "    restore_site",
    "    if nginx -t >/dev/null 2>&1; then nginx_reload || true; fi",
    '    echo "gunicorn-upstart: put the previous nginx site of $JOB back" >&2',
    "    exit 1",
    "  fi",
    "  sleep 0.5",
    "done",
    'say "gunicorn-upstart: nginx serves $JOB ($problem)"',
    "# The certificate (public) for the tlsCertificate output: the site's own, not a mount's. A",
    "# result: the command's output has it, the person watching the up does not get it streamed.",
    '[ "$TLS" = off ] || [ -n "$MOUNT_ON" ] || cat -- "$CERT" >&7',
    RUN_ID_LINE,
    "",
  ].join("\n");
}

/**
 * Removes the site and reloads nginx (when it runs and accepts what is left); a certificate
 * made here (self-signed) goes too. Files of `tls: files` are the user's and stay.
 */
export function renderNginxRemoveScript(spec: ServiceSpec): string {
  return [
    ...prelude(spec),
    'rm -f -- "$SITE"',
    'if [ -z "$MOUNT_ON" ] && [ "$TLS" = self-signed ]; then rm -f -- "$CERT" "$KEY"; fi',
    "if command -v nginx >/dev/null 2>&1 && nginx_running; then",
    "  if out=$(nginx -t 2>&1); then",
    "    nginx_reload",
    "  else",
    '    say "gunicorn-upstart: removed the nginx site of $JOB, but nginx refuses what is left, so it was not reloaded: $(printf "%s\\n" "$out" | grep -m 1 "emerg" || printf "%s\\n" "$out" | tail -n 1)"',
    "  fi",
    "fi",
    'say "gunicorn-upstart: removed the nginx site of $JOB"',
    "",
  ].join("\n");
}

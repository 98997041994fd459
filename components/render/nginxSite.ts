import { parseBind, type ServiceSpec } from "./spec";
import { initNoun } from "./launcher";

/**
 * The nginx site of a service (`nginx: true`): Gunicorn's own deployment guide strongly
 * recommends a buffering proxy in front (sync workers are tied up by slow clients otherwise).
 * One file per service in Debian's `conf.d`, so several services share a host's nginx by
 * server name. Pure: the site text and where things go.
 */

/** Where the site goes: `conf.d` is included by Debian's (and Ubuntu's) stock nginx.conf. */
export function nginxSitePath(spec: ServiceSpec): string {
  return `/etc/nginx/conf.d/gunicorn-${spec.job}.conf`;
}

/** Where other services' locations mounted on this service's site go (`nginxMountOn`). */
export function nginxMountDir(job: string): string {
  return `/etc/nginx/gunicorn-upstart/${job}.d`;
}

/** Where this service's nginx file goes: its own site, or its locations in another's. */
export function nginxFilePath(spec: ServiceSpec): string {
  return spec.nginxMountOn !== undefined
    ? `${nginxMountDir(spec.nginxMountOn)}/${spec.job}.conf`
    : nginxSitePath(spec);
}

/**
 * Where ACME HTTP-01 challenges are answered from (`certbot certonly --webroot -w <this>`),
 * shared by every site on the host: certbot writes `.well-known/acme-challenge/` under it.
 */
export const ACME_WEBROOT = "/var/www/acme";

/** One year, as HSTS is usually sent once HTTPS is known to work. */
const HSTS_MAX_AGE = 31_536_000;
/** Static files are named by content by Django's ManifestStaticFilesStorage: cache them long. */
const STATIC_MAX_AGE = 2_592_000;

/** A value in nginx's double-quoted string syntax (checked free of `$` by the spec). */
function ngQuote(value: string): string {
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

/** What nginx connects to (after `http://`): Gunicorn's bind, a wildcard bind as loopback. */
export function upstreamServer(spec: ServiceSpec): string {
  const bind = parseBind("bind", spec.bind);
  // nginx's form for a unix socket in proxy_pass: http://unix:/path:
  if (bind.kind === "unix") return `unix:${bind.path}:`;
  const host = bind.host === "0.0.0.0" ? "127.0.0.1" : bind.host === "[::]" ? "[::1]" : bind.host;
  return `${host}:${bind.port}`;
}

/** The URL the site answers on from the host itself (the health check through the proxy). */
export function siteUrl(spec: ServiceSpec, host: string): string {
  const tls = spec.tls !== "off";
  const port = tls ? spec.httpsPort : spec.httpPort;
  const standard = port === (tls ? 443 : 80);
  return `${tls ? "https" : "http"}://${host}${standard ? "" : `:${port}`}${spec.urlPrefix ?? ""}/`;
}

/**
 * The app's locations: static and media files from disk, the rest proxied to Gunicorn; under
 * `urlPrefix` when set (Gunicorn strips it, as SCRIPT_NAME, from the path it gives Django).
 */
function appLocations(spec: ServiceSpec, hsts: string[]): string[] {
  const prefix = spec.urlPrefix ?? "";
  const indent = (lines: string[]) => lines.map((l) => `    ${l}`);
  return [
    ...(spec.staticRoot !== undefined
      ? [
          "# Static files from disk (collectstatic's STATIC_ROOT), cached: Gunicorn never sees them.",
          `location ${prefix}/static/ {`,
          `    alias ${ngQuote(`${spec.staticRoot}/`)};`,
          `    add_header Cache-Control "public, max-age=${STATIC_MAX_AGE}";`,
          ...indent(hsts),
          "    access_log off;",
          "}",
        ]
      : []),
    ...(spec.mediaRoot !== undefined
      ? [
          "# User uploads (MEDIA_ROOT), from disk.",
          `location ${prefix}/media/ {`,
          `    alias ${ngQuote(`${spec.mediaRoot}/`)};`,
          ...indent(hsts),
          "}",
        ]
      : []),
    ...(prefix !== "" ? [`location = ${prefix} {`, `    return 301 ${prefix}/;`, "}"] : []),
    ...(spec.maintenance ? maintenanceLocations(spec, hsts) : proxyLocation(`${prefix}/`, spec)),
  ];
}

/** A location proxied to Gunicorn. */
function proxyLocation(match: string, spec: ServiceSpec): string[] {
  return [
    `location ${match} {`,
    // A single server: nginx never marks it unavailable, so no upstream block is needed.
    `    proxy_pass http://${upstreamServer(spec)};`,
    "    proxy_set_header Host $http_host;",
    "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "    proxy_set_header X-Forwarded-Proto $scheme;",
    "    proxy_redirect off;",
    "    # Buffered both ways (request bodies always are): a slow client holds an nginx",
    "    # connection, not a Gunicorn worker.",
    "    proxy_buffering on;",
    "}",
  ];
}

/** Seconds a maintenance answer tells clients (and crawlers) to wait before they ask again. */
export const MAINTENANCE_RETRY_AFTER = 300;

/**
 * `maintenance: true`: every path of the app answers 503 with Retry-After, from nginx (the
 * page of `maintenancePage`, or a plain text), but the health check, which still reaches
 * Gunicorn (the health checks through nginx keep working), and the static files, which the
 * page may use. Gunicorn itself is untouched: turning it off is an nginx reload.
 */
function maintenanceLocations(spec: ServiceSpec, hsts: string[]): string[] {
  const prefix = spec.urlPrefix ?? "";
  const named = `@gunicorn_upstart_maintenance_${spec.job.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const healthPath = `${prefix}${spec.healthCheckPath.split("?")[0] as string}`;
  const page = spec.maintenancePage;
  return [
    "# Maintenance: 503 with Retry-After for every path but the health check (and the files above).",
    ...proxyLocation(`= ${healthPath}`, spec),
    `location ${prefix}/ {`,
    `    error_page 503 ${named};`,
    "    return 503;",
    "}",
    `location ${named} {`,
    `    add_header Retry-After ${MAINTENANCE_RETRY_AFTER} always;`,
    ...hsts.map((h) => `    ${h.replace(/;$/, " always;")}`),
    ...(page !== undefined
      ? [
          `    root ${ngQuote(page.slice(0, page.lastIndexOf("/")) || "/")};`,
          `    try_files ${ngQuote(page.slice(page.lastIndexOf("/")))} =503;`,
        ]
      : ["    default_type text/plain;", '    return 503 "Down for maintenance; back soon.\\n";']),
    "}",
  ];
}

/** Renders the site, or with `nginxMountOn` the locations mounted on that job's site. */
export function renderNginxSite(spec: ServiceSpec): string {
  const tls = spec.tls !== "off";
  // add_header in a location replaces the server's: every location repeats HSTS.
  const hsts =
    tls && spec.hsts ? [`add_header Strict-Transport-Security "max-age=${HSTS_MAX_AGE}";`] : [];
  const header = (what: string) => [
    `# ${what} of the ${initNoun(spec)} ${spec.job}: proxies to Gunicorn, serves static files from disk.`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
  ];
  if (spec.nginxMountOn !== undefined) {
    return [
      ...header(`nginx locations (in the site of ${spec.nginxMountOn})`),
      ...appLocations(spec, hsts),
      "",
    ].join("\n");
  }
  const indent = (lines: string[]) => lines.map((l) => (l === "" ? l : `    ${l}`));
  const defaultServer = spec.serverName === "_" ? " default_server" : "";
  const app = [
    ...indent(hsts),
    `    client_max_body_size ${spec.clientMaxBodySize};`,
    "",
    ...indent(appLocations(spec, hsts)),
    "    # Apps mounted on this site under a path of their own (their nginxMountOn).",
    `    include ${nginxMountDir(spec.job)}/*.conf;`,
  ];
  const acme = [
    "    # ACME HTTP-01 challenges (certbot certonly --webroot -w /var/www/acme), from disk.",
    "    location /.well-known/acme-challenge/ {",
    `        root ${ACME_WEBROOT};`,
    "    }",
  ];
  const redirectPort = spec.httpsPort === 443 ? "" : `:${spec.httpsPort}`;
  const servers = tls
    ? [
        "server {",
        `    listen ${spec.httpPort}${defaultServer};`,
        `    server_name ${spec.serverName};`,
        ...acme,
        "    location / {",
        `        return 301 https://$host${redirectPort}$request_uri;`,
        "    }",
        "}",
        "",
        "server {",
        `    listen ${spec.httpsPort} ssl${defaultServer};`,
        `    server_name ${spec.serverName};`,
        `    ssl_certificate ${ngQuote(spec.tlsCertificateFile)};`,
        `    ssl_certificate_key ${ngQuote(spec.tlsKeyFile)};`,
        // nginx before 1.13 (Ubuntu 14.04's, under Upstart) does not know TLSv1.3.
        `    ssl_protocols ${spec.init === "upstart" ? "TLSv1.2" : "TLSv1.2 TLSv1.3"};`,
        "    ssl_session_timeout 1d;",
        `    ssl_session_cache shared:gunicorn_${spec.job}:10m;`,
        ...app,
        "}",
      ]
    : [
        "server {",
        `    listen ${spec.httpPort}${defaultServer};`,
        `    server_name ${spec.serverName};`,
        ...acme,
        ...app,
        "}",
      ];
  return [...header("nginx site"), ...servers, ""].join("\n");
}

// The nginx site: golden files (plain HTTP, TLS with HSTS and uploads, a unix socket bind), the
// real nginx accepting each (`nginx -t` on a configuration that includes it, as Debian's does),
// what reaches Gunicorn (Host, X-Forwarded-For and -Proto, buffering) and the refusals.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { normalizeSpec, SpecError, type ServiceSettings } from "../../components/render/spec";
import { renderNginxSite, siteUrl } from "../../components/render/nginxSite";
import {
  renderNginxApplyScript,
  renderNginxRemoveScript,
} from "../../components/render/nginxScripts";
import { renderServiceFiles } from "../../components/render/hostFiles";
import { assertGolden } from "../helpers/golden";
import { nginxTest, throwawayCertificate } from "../helpers/nginx";

const GOLDEN = resolve(__dirname, "golden/nginx");

const cases: Record<string, ServiceSettings> = {
  http: { nginx: true, releases: true, job: "shop" },
  "tls-hsts-media": {
    nginx: true,
    releases: true,
    job: "shop",
    bind: "0.0.0.0:8001",
    serverName: "www.example.com example.com",
    tls: "self-signed",
    hsts: true,
    httpsPort: 8443,
    clientMaxBodySize: "100m",
    mediaRoot: "/var/lib/shop/media files",
  },
  mounted: {
    nginx: true,
    releases: true,
    job: "blog",
    bind: "127.0.0.1:8002",
    urlPrefix: "/blog",
    nginxMountOn: "shop",
    tls: "self-signed",
    hsts: true,
  },
  maintenance: {
    nginx: true,
    releases: true,
    job: "shop",
    maintenance: true,
    healthCheckPath: "/health?deep=1",
  },
  "maintenance-page-mounted": {
    nginx: true,
    releases: true,
    job: "blog",
    bind: "127.0.0.1:8002",
    urlPrefix: "/blog",
    nginxMountOn: "shop",
    tls: "self-signed",
    hsts: true,
    healthCheckPath: "/health",
    maintenance: true,
    maintenancePage: "/srv/blog/static/maintenance.html",
  },
  "unix-socket": {
    nginx: true,
    job: "api",
    bind: "unix:/run/api/gunicorn.sock",
    tls: "files",
    tlsCertificateFile: "/etc/letsencrypt/live/api.example.com/fullchain.pem",
    tlsKeyFile: "/etc/letsencrypt/live/api.example.com/privkey.pem",
    serverName: "api.example.com",
  },
};

describe("the nginx site", () => {
  let dir: string;
  let tls: { cert: string; key: string };
  before(() => {
    const made = throwawayCertificate();
    dir = made.dir;
    tls = made;
  });

  for (const [name, settings] of Object.entries(cases)) {
    test(`renders its golden file and real nginx accepts it: ${name}`, () => {
      const spec = normalizeSpec(settings);
      assertGolden(join(GOLDEN, `${name}.conf`), renderNginxSite(spec));
      // The same site with certificate files that exist here (nginx -t opens them).
      const testable = normalizeSpec({
        ...settings,
        ...(spec.tls !== "off" ? { tlsCertificateFile: tls.cert, tlsKeyFile: tls.key } : {}),
      });
      // Locations mounted on another site are tested inside a server block, as they are used.
      const text = renderNginxSite(testable);
      const { status, out } = nginxTest(
        spec.nginxMountOn !== undefined ? `server {\n    listen 8099;\n${text}}\n` : text,
        dir,
      );
      assert.equal(status, 0, out);
      assert.match(out, /syntax is ok/);
    });
  }

  test("what Gunicorn gets: the client's Host, X-Forwarded-For and -Proto, buffered; static from disk with a cache header", () => {
    const site = renderNginxSite(normalizeSpec(cases.http!));
    assert.match(site, /location \/ \{\n {8}proxy_pass http:\/\/127\.0\.0\.1:8000;/);
    assert.match(site, /include \/etc\/nginx\/gunicorn-upstart\/shop\.d\/\*\.conf;/);
    for (const line of [
      "proxy_set_header Host $http_host;",
      "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
      "proxy_set_header X-Forwarded-Proto $scheme;",
      "proxy_buffering on;",
      "client_max_body_size 10m;",
      'alias "/srv/shop/static/";',
      'add_header Cache-Control "public, max-age=2592000";',
      "listen 80 default_server;",
      "server_name _;",
      "root /var/www/acme;",
    ]) {
      assert.ok(site.includes(line), line);
    }
    assert.doesNotMatch(site, /ssl|Strict-Transport-Security|return 301/);
  });

  test("with TLS: plain HTTP only redirects (and answers ACME), HSTS in every location, named servers are not the default", () => {
    const spec = normalizeSpec(cases["tls-hsts-media"]!);
    const site = renderNginxSite(spec);
    const [http, https] = site.split("\nserver {").slice(1);
    assert.match(http!, /listen 80;\n {4}server_name www\.example\.com example\.com;/);
    assert.match(http!, /location \/\.well-known\/acme-challenge\/ \{\n {8}root \/var\/www\/acme;/);
    assert.match(http!, /return 301 https:\/\/\$host:8443\$request_uri;/);
    assert.doesNotMatch(http!, /proxy_pass/);
    assert.match(https!, /listen 8443 ssl;/);
    assert.match(https!, /ssl_certificate "\/etc\/gunicorn-upstart\/tls\/shop\.crt";/);
    assert.match(https!, /ssl_certificate_key "\/etc\/gunicorn-upstart\/tls\/shop\.key";/);
    // add_header in a location replaces the server's: three places, one for each.
    assert.equal(https!.match(/Strict-Transport-Security/g)?.length, 3);
    assert.match(https!, /alias "\/var\/lib\/shop\/media files\/";/);
    assert.equal(siteUrl(spec, "203.0.113.9"), "https://203.0.113.9:8443/");
    assert.equal(siteUrl(normalizeSpec(cases.http!), "203.0.113.9"), "http://203.0.113.9/");
  });

  test("an app under a path mounted on another job's site: its locations only, under the prefix", () => {
    const spec = normalizeSpec(cases.mounted!);
    const text = renderNginxSite(spec);
    assert.doesNotMatch(text, /server \{|listen|ssl_certificate|include/);
    assert.match(text, /^location \/blog\/static\/ \{$/m);
    assert.match(text, /^location = \/blog \{\n {4}return 301 \/blog\/;/m);
    assert.match(text, /^location \/blog\/ \{\n {4}proxy_pass http:\/\/127\.0\.0\.1:8002;/m);
    assert.equal(siteUrl(spec, "127.0.0.1"), "https://127.0.0.1/blog/");
    // Gunicorn gets the prefix as SCRIPT_NAME; its health gate asks under it.
    assert.match(
      renderServiceFiles(spec, {}).gunicornConfig.content,
      /^ {4}"SCRIPT_NAME=\/blog",$/m,
    );
    assert.match(renderNginxApplyScript(spec), /^HEALTH_PATH='?\/blog\/'?$/m);
    assert.match(
      renderNginxApplyScript(spec),
      /^SITE='\/etc\/nginx\/gunicorn-upstart\/shop\.d\/blog\.conf'$/m,
    );
  });

  test("Gunicorn trusts nginx on the host by its own default; another proxy is one setting", () => {
    assert.equal(normalizeSpec({ nginx: true }).forwardedAllowIps, undefined);
    const spec = normalizeSpec({ forwardedAllowIps: "10.0.0.5,10.0.0.6" });
    assert.match(
      renderServiceFiles(spec, {}).gunicornConfig.content,
      /^forwarded_allow_ips = "10\.0\.0\.5,10\.0\.0\.6"$/m,
    );
  });

  test("settings nginx cannot take or that would clash are refused before anything runs", () => {
    const refuses = (settings: ServiceSettings, field: string, message: RegExp) =>
      assert.throws(
        () => normalizeSpec({ nginx: true, ...settings }),
        (e: unknown) => e instanceof SpecError && e.field === field && message.test(e.message),
      );
    refuses({ bind: "127.0.0.1:80" }, "bind", /cannot share port 80/);
    refuses({ tls: "self-signed", httpPort: 8443, httpsPort: 8443 }, "httpsPort", /port each/);
    refuses({ releases: true, staticRoot: "/srv/$host" }, "staticRoot", /no '\$'/);
    refuses({ sudo: "helper", setuid: "app" }, "nginx", /sudo "helper"/);
    refuses({ serverName: "example.com;" }, "serverName", /host names separated by spaces/);
    refuses({ serverName: "a  b" }, "serverName", /host names/);
    refuses({ clientMaxBodySize: "10 MB" }, "clientMaxBodySize", /10m/);
    refuses({ forwardedAllowIps: "127.0.0.1; rm" }, "forwardedAllowIps", /IP addresses/);
    refuses({ nginxMountOn: "shop" }, "urlPrefix", /needed with nginxMountOn/);
    refuses({ job: "shop", urlPrefix: "/x", nginxMountOn: "shop" }, "nginxMountOn", /own job/);
    refuses({ urlPrefix: "/blog/" }, "urlPrefix", /no trailing/);
  });

  test("its scripts pass bash -n and shellcheck", () => {
    for (const settings of Object.values(cases)) {
      const spec = normalizeSpec(settings);
      for (const script of [renderNginxApplyScript(spec), renderNginxRemoveScript(spec)]) {
        const n = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
        assert.equal(n.status, 0, n.stderr);
        const sc = spawnSync("shellcheck", ["-s", "bash", "-"], {
          input: script,
          encoding: "utf8",
        });
        assert.equal(sc.status, 0, sc.stdout);
      }
    }
  });
});

describe("maintenance", () => {
  test("503 with Retry-After for the app's paths, the health check still proxied, Gunicorn's files unchanged", () => {
    const on = normalizeSpec(cases.maintenance!);
    const site = renderNginxSite(on);
    assert.match(site, /location = \/health \{\n\s+proxy_pass http:\/\/127\.0\.0\.1:8000;/);
    assert.match(
      site,
      /location \/ \{\n\s+error_page 503 @gunicorn_upstart_maintenance_shop;\n\s+return 503;/,
    );
    assert.match(site, /add_header Retry-After 300 always;/);
    assert.match(site, /return 503 "Down for maintenance; back soon\.\\n";/);
    // Static files stay served (a maintenance page may use them).
    assert.match(site, /location \/static\/ \{/);
    const off = normalizeSpec({ ...cases.maintenance, maintenance: false });
    assert.doesNotMatch(renderNginxSite(off), /503/);
    assert.deepEqual(renderServiceFiles(on, {}), renderServiceFiles(off, {}));
  });

  test("is refused with the health check at /, which would keep the home page served", () => {
    assert.throws(
      () => normalizeSpec({ nginx: true, maintenance: true }),
      (e: unknown) =>
        e instanceof SpecError && e.field === "maintenance" && /other than "\/"/.test(e.message),
    );
  });
});

// nginx in front, on a real host under each init: the component's site (self-signed TLS, HSTS,
// static files from disk) in front of real Gunicorn and Django, checked with curl --cacert from
// outside the host. Same test hosts as releases.test.ts: real OpenSSH, sudo, bash, nginx,
// Gunicorn and Django, with test/host/initctl standing in for Upstart, then on real systemd;
// run through the replay (test/integration/replay.ts), not the real engine.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { GunicornService } from "../../components";
import { freePort } from "../helpers/freePort";
import { makeApp } from "./app";
import { phases, UpFailed } from "./replay";
import { APP_USER_SETUP, connectionTo, siteSettings } from "./site";
import { startTestHost, type TestHost } from "./testHost";
import { twoServices } from "../../examples/two-services/twoServices";
import { recorder } from "./replay";
import { lifecycleEngine, type LifecycleEngine } from "./engine";

// Debian's own default site would be the default server of port 80 on the shared network.
const SETUP = `${APP_USER_SETUP}rm -f /etc/nginx/sites-enabled/default\n`;

let host: TestHost;
let replay: LifecycleEngine;
let app: ReturnType<typeof makeApp>;
let port: number;
let httpPort: number;
let httpsPort: number;
let caFile: string;
const outputs: { url?: string; certificate?: string | undefined } = {};

function program(
  extra: { clientMaxBodySize?: string; healthCheckPath?: string; maintenance?: boolean } = {},
) {
  return () => {
    const svc = new GunicornService(
      "site",
      {
        host: connectionTo(host),
        ...siteSettings(port, {
          init: host.init,
          appSource: app.dir,
          startTimeout: 20,
          nginx: true,
          tls: "self-signed",
          hsts: true,
          httpPort,
          httpsPort,
          accessLog: "/var/log/site/access.log",
          clientMaxBodySize: "1m",
          ...extra,
          readWritePaths: host.init === "systemd" ? ["/var/lib/mysite"] : [],
        }),
      },
      { transformations: [recorder] },
    );
    return [
      svc.status,
      svc.url.apply((u) => (outputs.url = u)),
      svc.tlsCertificate.apply((c) => (outputs.certificate = c)),
    ] as pulumi.Output<unknown>[];
  };
}

/** curl from outside the host, trusting only the site's certificate. */
function curl(url: string, ...args: string[]): { status: number; headers: string; body: string } {
  const r = spawnSync(
    "curl",
    ["-sS", "--max-time", "10", "--cacert", caFile, "-D", "-", ...args, url],
    { encoding: "utf8" },
  );
  if (r.status !== 0) return { status: 0, headers: "", body: r.stderr };
  const [headers = "", body = ""] = r.stdout.split("\r\n\r\n");
  return { status: Number(/^HTTP\/\S+ (\d+)/.exec(headers)?.[1] ?? 0), headers, body };
}

const nginxMaster = () => host.rootOk("pgrep -o -x nginx || true").trim();

for (const init of ["upstart", "systemd"] as const) {
  describe(`nginx in front, with TLS, on a real ${init} host`, { timeout: 600_000 }, () => {
    before(async () => {
      host = await startTestHost(SETUP, { init });
      port = await freePort();
      httpPort = await freePort();
      httpsPort = await freePort();
      replay = lifecycleEngine(host);
      app = makeApp();
      app.setVersion("v1");
      caFile = join(host.keyFile + ".ca.pem");
    });
    after(() => host?.stop());

    test("the first up serves the app through nginx over HTTPS, with a certificate made on the host", async () => {
      const ran = await replay.up(program());
      assert.deepEqual(phases(ran).slice(-2), [
        "create site-service-lifecycle",
        "create site-nginx-site",
      ]);
      assert.match(
        ran.at(-1)!.stdout,
        /made a self-signed certificate for DNS:localhost,IP:127\.0\.0\.1/,
      );
      assert.match(ran.at(-1)!.stdout, /nginx serves site/);
      assert.equal(outputs.url, `https://127.0.0.1:${httpsPort}/`);
      assert.match(outputs.certificate ?? "", /^-----BEGIN CERTIFICATE-----\n/);
      assert.equal(outputs.certificate, host.rootOk("cat /etc/gunicorn-upstart/tls/site.crt"));
      assert.equal(
        host.rootOk("stat -c '%U %a' /etc/gunicorn-upstart/tls/site.key").trim(),
        "root 600",
      );
      writeFileSync(caFile, outputs.certificate!);
      const page = curl(outputs.url!);
      assert.equal(page.status, 200, page.body);
      assert.match(page.body, /version=v1$/);
      assert.match(page.headers, /^strict-transport-security: max-age=31536000/im);
    });

    test("Django sees HTTPS, the client's Host and X-Forwarded-For (Gunicorn trusts nginx on the host)", () => {
      const r = curl(`https://127.0.0.1:${httpsPort}/proxy`);
      assert.equal(r.body, `https 127.0.0.1:${httpsPort} 127.0.0.1`);
    });

    test("static files come from disk with their type and a cache header; Gunicorn never sees them", () => {
      const r = curl(`https://127.0.0.1:${httpsPort}/static/notes/site.css`);
      assert.equal(r.status, 200);
      assert.match(r.body, /#123456/);
      assert.match(r.headers, /^content-type: text\/css/im);
      assert.match(r.headers, /^cache-control: public, max-age=2592000/im);
      assert.match(r.headers, /^strict-transport-security: /im);
      const accessLog = host.rootOk("cat /var/log/site/access.log");
      assert.match(accessLog, /"GET \/proxy /, "Gunicorn logs what it serves");
      assert.doesNotMatch(accessLog, /site\.css/);
      // Django's admin static, collected from Debian's Django too.
      assert.equal(curl(`https://127.0.0.1:${httpsPort}/static/admin/css/base.css`).status, 200);
    });

    test("plain HTTP redirects to HTTPS, and answers ACME challenges from disk", () => {
      const r = curl(`http://127.0.0.1:${httpPort}/notes?x=1`);
      assert.equal(r.status, 301);
      assert.match(
        r.headers,
        new RegExp(`^location: https://127\\.0\\.0\\.1:${httpsPort}/notes\\?x=1`, "im"),
      );
      host.rootOk(
        "mkdir -p /var/www/acme/.well-known/acme-challenge && echo token-ok > /var/www/acme/.well-known/acme-challenge/t1",
      );
      const acme = curl(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/t1`);
      assert.equal(acme.status, 200);
      assert.equal(acme.body.trim(), "token-ok");
    });

    test("a site change (client_max_body_size) reloads nginx gracefully: same master, Gunicorn untouched", async () => {
      const master = nginxMaster();
      const gunicorn = host.mainPid("site");
      const big = join(host.keyFile + ".body");
      writeFileSync(big, "x".repeat(2 * 1024 * 1024));
      assert.equal(
        curl(`https://127.0.0.1:${httpsPort}/`, "-H", "Expect:", "--data-binary", `@${big}`).status,
        413,
      );
      const ran = await replay.up(program({ clientMaxBodySize: "5m" }));
      assert.deepEqual(phases(ran), ["update site-nginx-site"]);
      assert.equal(nginxMaster(), master, "reloaded, not restarted");
      assert.equal(host.mainPid("site"), gunicorn);
      // Past nginx now: Django answers the POST itself (403: no CSRF token), not nginx's 413.
      assert.equal(
        curl(`https://127.0.0.1:${httpsPort}/`, "-H", "Expect:", "--data-binary", `@${big}`).status,
        403,
      );
    });

    test("maintenance: 503 with Retry-After for the app, the health check and static files still served; toggling it reloads nginx only", async () => {
      // In maintenance the health check stays served: not at "/", the home page.
      const base = { clientMaxBodySize: "5m", healthCheckPath: "/notes" };
      await replay.up(program(base));
      const master = nginxMaster();
      const gunicorn = host.mainPid("site");
      assert.deepEqual(phases(await replay.up(program({ ...base, maintenance: true }))), [
        "update site-nginx-site",
      ]);
      const down = curl(`https://127.0.0.1:${httpsPort}/`);
      assert.equal(down.status, 503);
      assert.match(down.headers, /^retry-after: 300\r?$/im);
      assert.match(down.headers, /^strict-transport-security: max-age=31536000\r?$/im);
      assert.equal(down.body, "Down for maintenance; back soon.\n");
      assert.equal(curl(`https://127.0.0.1:${httpsPort}/admin/login/`).status, 503);
      assert.equal(curl(`https://127.0.0.1:${httpsPort}/notes`).status, 200);
      assert.equal(curl(`https://127.0.0.1:${httpsPort}/static/notes/site.css`).status, 200);
      assert.equal(nginxMaster(), master, "nginx reloaded, not restarted");
      assert.equal(host.mainPid("site"), gunicorn, "Gunicorn untouched");
      assert.deepEqual(phases(await replay.up(program(base))), ["update site-nginx-site"]);
      assert.equal(curl(`https://127.0.0.1:${httpsPort}/`).status, 200);
      assert.equal(host.mainPid("site"), gunicorn);
      await replay.up(program({ clientMaxBodySize: "5m" }));
    });

    test("another app under /blog, mounted on this site: served under the path, Django's URLs under it", async () => {
      const blogApp = makeApp();
      blogApp.setVersion("blog-1");
      const blogPort = await freePort();
      const mounted = lifecycleEngine(host);
      const blog = () => () => [
        new GunicornService(
          "blog",
          {
            host: connectionTo(host),
            ...siteSettings(
              blogPort,
              {
                init: host.init,
                appSource: blogApp.dir,
                appEnv: { APP_DB: "/var/lib/mysite/blog.sqlite3" },
                startTimeout: 20,
                nginx: true,
                urlPrefix: "/blog",
                nginxMountOn: "site",
                tls: "self-signed",
                hsts: true,
                httpPort,
                httpsPort,
                readWritePaths: host.init === "systemd" ? ["/var/lib/mysite"] : [],
              },
              "blog",
            ),
          },
          { transformations: [recorder] },
        ).url,
      ];
      const ran = await mounted.up(blog());
      assert.ok(phases(ran).includes("create blog-nginx-site"));
      assert.equal(host.rootOk("ls /etc/nginx/gunicorn-upstart/site.d").trim(), "blog.conf");
      const page = curl(`https://127.0.0.1:${httpsPort}/blog/`);
      assert.equal(page.status, 200, page.body);
      assert.match(page.body, /version=blog-1$/);
      assert.equal(
        curl(`https://127.0.0.1:${httpsPort}/blog/url`).body,
        `https://127.0.0.1:${httpsPort}/blog/url`,
        "Django sees the path it is under (SCRIPT_NAME)",
      );
      const bare = curl(`https://127.0.0.1:${httpsPort}/blog`);
      assert.equal(bare.status, 301);
      assert.match(bare.headers, /^location: .*\/blog\/\r?$/im);
      const css = curl(`https://127.0.0.1:${httpsPort}/blog/static/notes/site.css`);
      assert.equal(css.status, 200);
      assert.match(css.headers, /^content-type: text\/css/im);
      assert.match(
        curl(`https://127.0.0.1:${httpsPort}/`).body,
        /version=v1$/,
        "the site's own app",
      );
      await mounted.destroy();
      assert.equal(host.root("test -e /etc/nginx/gunicorn-upstart/site.d/blog.conf").status, 1);
      assert.equal(curl(`https://127.0.0.1:${httpsPort}/blog/`).status, 404, "the site's app now");
      assert.equal(curl(`https://127.0.0.1:${httpsPort}/`).status, 200);
    });

    test("an unchanged stack is a no-op up", async () => {
      assert.deepEqual(await replay.up(program({ clientMaxBodySize: "5m" })), []);
    });

    test("destroy removes the site and its certificate and reloads nginx; the port refuses", async () => {
      await replay.destroy();
      assert.equal(host.root("test -e /etc/nginx/conf.d/gunicorn-site.conf").status, 1);
      assert.equal(host.root("test -e /etc/gunicorn-upstart/tls/site.key").status, 1);
      assert.equal(curl(`https://127.0.0.1:${httpsPort}/`).status, 0, "nothing listens");
      assert.notEqual(nginxMaster(), "", "nginx itself stays (it may serve other sites)");
    });

    test("a site whose ACME directory the app user could swap is refused; an existing directory keeps its mode", async () => {
      host.rootOk("chown app /var/www && install -d -m 0711 /etc/gunicorn-upstart/tls");
      try {
        await assert.rejects(replay.up(program()), (e: unknown) => {
          assert.ok(e instanceof UpFailed, String(e));
          assert.equal(e.resource, "site-nginx-site");
          assert.match(
            e.stderr,
            /refusing the nginx site of site: \/var\/www \(uid \d+, mode \d+\) can be changed/,
          );
          return true;
        });
        assert.equal(host.root("test -e /etc/nginx/conf.d/gunicorn-site.conf").status, 1);
      } finally {
        host.rootOk("chown root /var/www");
      }
      await replay.up(program());
      assert.equal(host.rootOk("stat -c %a /etc/gunicorn-upstart/tls").trim(), "711");
      await replay.destroy();
    });

    test("two services share the host's nginx by server name (examples/two-services)", async () => {
      const apps = { shop: makeApp(), blog: makeApp() };
      apps.shop.setVersion("shop-1");
      apps.blog.setVersion("blog-1");
      const two = lifecycleEngine(host);
      const certs: Record<string, string | undefined> = {};
      const ran = await two.up(() => {
        const { shop, blog } = twoServices({
          host: connectionTo(host),
          shopSource: apps.shop.dir,
          blogSource: apps.blog.dir,
          shopWsgiApp: "mysite.wsgi:application",
          blogWsgiApp: "mysite.wsgi:application",
          httpPort,
          httpsPort,
          common: {
            init: host.init,
            user: "app",
            group: "app",
            virtualenv: "/home/app/venv",
            startTimeout: 20,
            readWritePaths: host.init === "systemd" ? ["/var/lib/mysite"] : [],
          },
          // A database each: the two apps are different apps.
          shop: { appEnv: { APP_DB: "/var/lib/mysite/shop.sqlite3" } },
          blog: { appEnv: { APP_DB: "/var/lib/mysite/blog.sqlite3" } },
        });
        return [
          shop.tlsCertificate.apply((c) => (certs.shop = c)),
          blog.tlsCertificate.apply((c) => (certs.blog = c)),
        ] as pulumi.Output<unknown>[];
      });
      assert.ok(phases(ran).includes("create shop-nginx-site"));
      assert.ok(phases(ran).includes("create blog-nginx-site"));
      for (const name of ["shop", "blog"] as const) {
        // Each site has a certificate for its own name, which curl checks.
        writeFileSync(caFile, certs[name]!);
        const domain = `${name}.example.com`;
        const r = curl(
          `https://${domain}:${httpsPort}/`,
          "--resolve",
          `${domain}:${httpsPort}:127.0.0.1`,
        );
        assert.equal(r.status, 200, r.body);
        assert.match(r.body, new RegExp(`version=${name}-1$`));
      }
      await two.destroy();
      assert.equal(host.root("ls /etc/nginx/conf.d/gunicorn-*.conf").status, 2, "no site is left");
    });
  });
}

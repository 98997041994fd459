// Composing: two Gunicorn services on one existing host, and an nginx site that consumes
// their outputs (job names and bind addresses) to proxy to both. Run it as a stack program
// (`main: examples/two-services/index.ts` in a Pulumi.yaml) or read it as a pattern.
import * as pulumi from "@pulumi/pulumi";
import { GunicornService, RemoteFile } from "../../components";

const config = new pulumi.Config();
const host = {
  host: config.get("host") ?? "10.0.0.5",
  user: config.get("sshUser") ?? "ubuntu",
  privateKey: config.requireSecret("sshPrivateKey"),
};

const shop = new GunicornService("shop", {
  host,
  job: "shop",
  projectDir: "/srv/shop",
  virtualenv: "/srv/shop/venv",
  logFile: "/var/log/shop/gunicorn.log",
  user: "shop",
  group: "shop",
  wsgiApp: "shop.wsgi:application",
  bind: "127.0.0.1:8001",
  workers: 4,
});

const blog = new GunicornService("blog", {
  host,
  job: "blog",
  projectDir: "/srv/blog",
  virtualenv: "/srv/blog/venv",
  logFile: "/var/log/blog/gunicorn.log",
  user: "blog",
  group: "blog",
  wsgiApp: "blog.wsgi:application",
  bind: "127.0.0.1:8002",
  workers: 2,
});

/** An nginx site that routes /shop/ and /blog/ to the two services, from their outputs. */
class ProxySite extends pulumi.ComponentResource {
  public readonly conf: pulumi.Output<string>;
  constructor(
    name: string,
    upstreams: Record<string, GunicornService>,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("example:index:ProxySite", name, {}, opts);
    const locations = Object.entries(upstreams).map(
      ([path, svc]) =>
        pulumi.interpolate`    location /${path}/ { proxy_pass ${svc.url}; }  # job ${svc.jobName}`,
    );
    this.conf = pulumi
      .all(locations)
      .apply((lines) => ["server {", "    listen 80;", ...lines, "}", ""].join("\n"));
    new RemoteFile(
      `${name}-conf`,
      { connection: host, path: "/etc/nginx/sites-enabled/apps.conf", content: this.conf },
      { parent: this },
    );
    this.registerOutputs({ conf: this.conf });
  }
}

const proxy = new ProxySite("proxy", { shop, blog });

export const shopUrl = shop.url;
export const blogUrl = blog.url;
export const nginxConf = proxy.conf;

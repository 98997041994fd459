// Composing: two Django services on one existing host, behind its nginx by server name
// (shop.example.com and blog.example.com), each deployed as releases with its migrations and
// static files. Run it as a stack program (`main: examples/two-services/index.ts` in a
// Pulumi.yaml); test/integration/nginx.test.ts runs twoServices() against a real host.
import * as pulumi from "@pulumi/pulumi";
import { twoServices } from "./twoServices";

const config = new pulumi.Config();
const hostPackages = config.getObject<string[]>("hostPackages");
const { shop, blog } = twoServices({
  host: {
    host: config.get("host") ?? "10.0.0.5",
    port: config.getNumber("sshPort") ?? 22,
    user: config.get("sshUser") ?? "ubuntu",
    privateKey: config.requireSecret("sshPrivateKey"),
  },
  shopSource: config.get("shopSource") ?? "../shop",
  blogSource: config.get("blogSource") ?? "../blog",
  httpPort: config.getNumber("httpPort") ?? 80,
  httpsPort: config.getNumber("httpsPort") ?? 443,
  // The host is prepared once (users, directories, nginx; hostPackages: the OS packages it
  // installs when missing) and each app gets its virtualenv. An init other than the two is
  // refused at preview, naming `init`.
  common: {
    init: (config.get("init") ?? "systemd") as "upstart" | "systemd",
    prepareHost: hostPackages !== undefined ? { packages: hostPackages } : true,
    pythonEnv: { requirements: "Django>=4.2,<6\n" },
  },
});

export const shopUrl = shop.url; // https://<host>/ for shop.example.com
export const blogUrl = blog.url;
export const shopCertificate = shop.tlsCertificate;

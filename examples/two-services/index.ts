// Composing: two Django services on one existing host, behind its nginx by server name
// (shop.example.com and blog.example.com), each deployed as releases with its migrations and
// static files. Run it as a stack program (`main: examples/two-services/index.ts` in a
// Pulumi.yaml); test/integration/nginx.test.ts runs twoServices() against a real host.
import * as pulumi from "@pulumi/pulumi";
import { twoServices } from "./twoServices";

const config = new pulumi.Config();
const { shop, blog } = twoServices({
  host: {
    host: config.get("host") ?? "10.0.0.5",
    port: config.getNumber("sshPort") ?? 22,
    user: config.get("sshUser") ?? "ubuntu",
    privateKey: config.requireSecret("sshPrivateKey"),
  },
  shopSource: config.get("shopSource") ?? "../shop",
  blogSource: config.get("blogSource") ?? "../blog",
  // The host is prepared once (users, directories, nginx) and each app gets its virtualenv.
  common: { init: "systemd", prepareHost: true, pythonEnv: { requirements: "Django>=4.2,<6\n" } },
});

export const shopUrl = shop.url; // https://<host>/ for shop.example.com
export const blogUrl = blog.url;
export const shopCertificate = shop.tlsCertificate;

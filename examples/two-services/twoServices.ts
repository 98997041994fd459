// Two Django services on one host behind the host's one nginx, told apart by server name:
// each GunicornService writes its own nginx site (`nginx: true`), so composing them needs no
// hand-written proxy config. Used by ./index.ts (the stack program) and run against a real
// host by test/integration/nginx.test.ts.
import type * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { GunicornService, type GunicornServiceArgs } from "../../components";

/** Where each app comes from and what differs per host; the rest is the example's. */
export interface TwoServicesArgs {
  /** SSH connection to the host. */
  host: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** Local directories of the two Django apps, deployed as releases. */
  shopSource: string;
  blogSource: string;
  /** Each app's WSGI callable. @default "shop.wsgi:application", "blog.wsgi:application" */
  shopWsgiApp?: string;
  blogWsgiApp?: string;
  /** nginx's ports, shared by both sites. @default 80 and 443 */
  httpPort?: number;
  httpsPort?: number;
  /** Settings both services get over the example's, e.g. the init or the virtualenv. */
  common?: Partial<GunicornServiceArgs>;
  /** Settings of one service over those, e.g. its own database in `appEnv`. */
  shop?: Partial<GunicornServiceArgs>;
  blog?: Partial<GunicornServiceArgs>;
}

export function twoServices(args: TwoServicesArgs): {
  shop: GunicornService;
  blog: GunicornService;
} {
  const service = (name: "shop" | "blog", port: number, source: string, wsgiApp: string) =>
    new GunicornService(name, {
      host: args.host,
      job: name,
      appSource: source,
      virtualenv: `/srv/${name}/venv`,
      logFile: `/var/log/${name}/gunicorn.log`,
      user: name,
      group: name,
      wsgiApp,
      // Gunicorn on loopback: only nginx reaches it.
      bind: `127.0.0.1:${port}`,
      // One nginx, two sites: each answers its own name on the shared ports.
      nginx: true,
      serverName: `${name}.example.com`,
      tls: "self-signed",
      httpPort: args.httpPort ?? 80,
      httpsPort: args.httpsPort ?? 443,
      healthCheckHost: `${name}.example.com`,
      ...args.common,
      ...args[name],
    });
  return {
    shop: service("shop", 8001, args.shopSource, args.shopWsgiApp ?? "shop.wsgi:application"),
    blog: service("blog", 8002, args.blogSource, args.blogWsgiApp ?? "blog.wsgi:application"),
  };
}

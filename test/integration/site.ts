// The test site the real-host tests (and the benchmark) deploy: the settings they all share,
// so each test states only what it is about.
import * as pulumi from "@pulumi/pulumi";
import { GunicornService, type GunicornServiceArgs } from "../../components";
import { recorder } from "./replay";
import type { TestHost } from "./testHost";

/** A service user `app` and a virtualenv that sees Debian's Django and Gunicorn. */
export const APP_USER_SETUP =
  "useradd --system --create-home --home-dir /home/app --shell /usr/sbin/nologin app\n" +
  "/usr/bin/python3 -m venv --system-site-packages --without-pip /home/app/venv\n" +
  // The test app's database lives here (its settings read APP_DB, this by default).
  "install -d -o app -g app -m 0750 /var/lib/mysite\n";

/** The SSH connection to a test host, as a stack would give it. */
export function connectionTo(host: TestHost) {
  return {
    host: "127.0.0.1",
    port: host.port,
    user: host.user,
    privateKey: pulumi.secret(host.privateKey),
  };
}

/**
 * A program with one GunicornService named `name` (also its job) on the test host, bound to
 * 127.0.0.1:port, with `settings` over the shared ones. For the replay's `up`.
 */
export function siteProgram(
  host: TestHost,
  port: number,
  settings: Partial<GunicornServiceArgs>,
  name = "site",
): () => pulumi.Output<unknown>[] {
  return () => {
    const svc = new GunicornService(
      name,
      { host: connectionTo(host), ...siteSettings(port, settings, name) },
      { transformations: [recorder] },
    );
    return [svc.status, svc.url];
  };
}

/** The settings of {@link siteProgram}'s service (all but the host). */
export function siteSettings(
  port: number,
  settings: Partial<GunicornServiceArgs>,
  name = "site",
): Partial<GunicornServiceArgs> {
  return {
    job: name,
    virtualenv: "/home/app/venv",
    logFile: `/var/log/${name}/gunicorn.log`,
    user: "app",
    group: "app",
    wsgiApp: "mysite.wsgi:application",
    bind: `127.0.0.1:${port}`,
    ...settings,
  };
}

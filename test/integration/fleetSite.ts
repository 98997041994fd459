// The fleet the fleet tests and the rolling bench deploy: two services (Upstart jobs web0 and
// web1, each a "host" of the fleet with its own loopback port) on one test host, behind the
// local load balancer that stands in for the ALB (test/fixtures/balancer.mjs, its own process),
// which the fleet's drain and register steps drive through test/fixtures/balancer-ctl.mjs.
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { resolve } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { GunicornFleet, type GunicornFleetArgs } from "../../components";
import { freePorts } from "../helpers/freePort";
import { recorder } from "./replay";
import { APP_USER_SETUP, connectionTo } from "./site";
import type { TestHost } from "./testHost";

/** The app user, and two virtualenvs: switching between them is a restart-type change. */
export const FLEET_SETUP = `${APP_USER_SETUP}/usr/bin/python3 -m venv --system-site-packages --without-pip /home/app/venv2\n`;

const BALANCER = resolve(__dirname, "../fixtures/balancer.mjs");
const CTL = resolve(__dirname, "../fixtures/balancer-ctl.mjs");

/**
 * One HTTP request on a fresh connection. (fetch would reuse a pooled connection that the
 * server closed while this process was blocked in a replayed command.)
 */
export function request(url: string, method = "GET"): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = http.request(url, { method, agent: false }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

export interface BalancerState {
  inRotation: boolean[];
  served: number[];
  failed: number;
  minInRotation: number | null;
}

/** The running local balancer in front of the fleet's ports. */
export interface LocalBalancer {
  ports: number[];
  url: string;
  adminPort: number;
  state(): Promise<BalancerState>;
  /** Counts failures and the fewest hosts in rotation from now. */
  reset(): Promise<void>;
  stop(): void;
}

/** Starts the balancer for `count` backends on free loopback ports. */
export async function startBalancer(count: number, healthPath = "/"): Promise<LocalBalancer> {
  // Distinct: the balancer and its admin API failed to start when two of these coincided.
  const chosen = await freePorts(count + 2);
  const ports = chosen.slice(0, count);
  const [lbPort, adminPort] = chosen.slice(count) as [number, number];
  const child: ChildProcess = spawn(
    process.execPath,
    [
      BALANCER,
      String(lbPort),
      String(adminPort),
      healthPath,
      ...ports.map((p) => `127.0.0.1:${p}`),
    ],
    { stdio: "inherit" },
  );
  const admin = `http://127.0.0.1:${adminPort}`;
  let up = false;
  for (let i = 0; i < 50 && !up; i++) {
    up = await request(`${admin}/state`).then(
      () => true,
      () => false,
    );
    if (!up) await new Promise((r) => setTimeout(r, 100));
  }
  if (!up) {
    child.kill("SIGKILL");
    throw new Error(`the local balancer did not answer on ${admin} within 5 s (see its stderr)`);
  }
  return {
    ports,
    url: `http://127.0.0.1:${lbPort}/`,
    adminPort,
    state: async () => JSON.parse((await request(`${admin}/state`)).body) as BalancerState,
    reset: async () => void (await request(`${admin}/reset`, "POST")),
    stop: () => child.kill("SIGKILL"),
  };
}

/** A program with a GunicornFleet named `web` of the app at `appDir`, one host per port. */
export function fleetProgram(
  host: TestHost,
  balancer: LocalBalancer,
  appDir: string,
  extra: Partial<GunicornFleetArgs> = {},
  virtualenv = "/home/app/venv",
): () => pulumi.Output<unknown>[] {
  return () => {
    const ctl = (action: string) =>
      `'${process.execPath}' '${CTL}' ${balancer.adminPort} ${action}`;
    const fleet = new GunicornFleet(
      "web",
      {
        service: {
          user: "app",
          group: "app",
          virtualenv,
          wsgiApp: "mysite.wsgi:application",
          appSource: appDir,
          workers: 2,
          logLevel: "warning",
          appEnv: { DJANGO_SETTINGS_MODULE: "mysite.settings" },
        },
        hosts: balancer.ports.map((port, i) => ({
          connection: connectionTo(host),
          settings: {
            job: `web${i}`,
            bind: `127.0.0.1:${port}`,
            logFile: `/var/log/web${i}/gunicorn.log`,
          },
        })),
        balancer: { drain: ctl("drain"), register: ctl("register"), deregister: ctl("deregister") },
        ...extra,
      },
      { transformations: [recorder] },
    );
    return [fleet.url, ...fleet.services.map((s) => s.status)];
  };
}

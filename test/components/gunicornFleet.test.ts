// GunicornFleet under mocks: the load balancer and its target group, the hosts across subnets,
// the rolling order of the per-host steps (drain, lifecycle, register), what a change touches,
// and validation. The rolling change against real hosts: test/integration/fleet.test.ts.
import { test, describe, beforeEach } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { GunicornFleet, type GunicornFleetArgs } from "../../components";
import {
  dependencyNames,
  inputsByName,
  recorded,
  recorder,
  registered,
  reset,
  settle,
  valueOf,
} from "../helpers/pulumiMocks";
import { contentOf, programOf } from "../helpers/loaded";

const vm = {
  publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@laptop",
  privateKey: pulumi.secret("PRIVATE"),
  sshCidr: "198.51.100.7/32",
};
const fleetArgs = (extra: Partial<GunicornFleetArgs> = {}, count = 3): GunicornFleetArgs => ({
  service: { bind: "0.0.0.0:8000", healthCheckPath: "/health", gracefulTimeout: 20 },
  vms: { count, subnetIds: ["subnet-a", "subnet-b"], vm },
  ...extra,
});

async function evaluate(args: GunicornFleetArgs): Promise<GunicornFleet> {
  const fleet = new GunicornFleet("web", args, { transformations: [recorder] });
  await valueOf(fleet.url);
  for (const s of fleet.services) await valueOf(s.status);
  await settle();
  return fleet;
}

const inputs = (name: string) => {
  const r = recorded.find((x) => x.name === name);
  assert.ok(r, `no ${name}`);
  return r.inputs;
};

/** Each resource's dependencies, transitively, by name. */
async function dependencies(): Promise<Map<string, Set<string>>> {
  const direct = new Map<string, string[]>();
  for (const r of registered) direct.set(r.name, await dependencyNames(r));
  const children = (name: string): string[] =>
    registered
      .filter((r) => (r.opts.parent as unknown as { __name?: string })?.__name === name)
      .flatMap((r) => [r.name, ...children(r.name)]);
  const all = new Map<string, Set<string>>();
  const visit = (name: string, seen = new Set<string>()): Set<string> => {
    for (const d of direct.get(name) ?? []) {
      for (const n of [d, ...children(d)]) {
        if (!seen.has(n)) {
          seen.add(n);
          visit(n, seen);
        }
      }
    }
    return seen;
  };
  for (const r of registered) all.set(r.name, visit(r.name));
  return all;
}

describe("GunicornFleet", () => {
  beforeEach(async () => {
    await settle();
    reset();
  });

  test("with vms: an ALB, a target group checking the health gate's path, and one service per host across the subnets", async () => {
    const fleet = await evaluate(fleetArgs());
    assert.equal(fleet.services.length, 3);
    const tg = inputs("web-tg");
    assert.equal(tg.port, 8000);
    assert.equal(tg.protocol, "HTTP");
    assert.equal(tg.deregistrationDelay, 20, "a draining host gets Gunicorn's graceful timeout");
    assert.deepEqual(
      {
        path: (tg.healthCheck as Record<string, unknown>).path,
        matcher: (tg.healthCheck as Record<string, unknown>).matcher,
      },
      { path: "/health", matcher: "200-399" },
    );
    assert.deepEqual(inputs("web-alb").subnets, ["subnet-a", "subnet-b"]);
    assert.equal(inputs("web-alb").loadBalancerType, "application");
    assert.equal(inputs("web-http").port, 80);
    assert.deepEqual(
      [0, 1, 2].map((i) => inputs(`web-${i}-vm-instance`).subnetId),
      ["subnet-a", "subnet-b", "subnet-a"],
    );
    // The app port of each VM only from inside the VPC (the ALB), SSH only from sshCidr.
    const ingress = inputs("web-0-vm-sg").ingress as { fromPort: number; cidrBlocks: string[] }[];
    assert.deepEqual(
      ingress.map((r) => [r.fromPort, r.cidrBlocks]),
      [
        [22, ["198.51.100.7/32"]],
        [8000, ["10.20.0.0/16"]],
      ],
    );
    assert.match(await valueOf(fleet.url), /^http:\/\/.*:80\/$/);
  });

  test("drain and register are the ALB's own operations, with the host's instance and port", async () => {
    await evaluate(fleetArgs());
    const drain = inputs("web-1-drain");
    assert.equal(drain.create, "true", "nothing to drain before the first start");
    assert.match(
      String(drain.update),
      /aws elbv2 deregister-targets .* && aws elbv2 wait target-deregistered/,
    );
    const register = inputs("web-1-register");
    assert.match(
      String(register.create),
      /aws elbv2 register-targets .* && aws elbv2 wait target-in-service/,
    );
    assert.equal(register.update, register.create);
    assert.match(String(register.delete), /aws elbv2 deregister-targets/);
    const env = register.environment as Record<string, string>;
    assert.equal(env.TARGET_INDEX, "1");
    assert.equal(env.TARGET_ID, "web-1-vm-instance-id");
    assert.equal(env.TARGET_PORT, "8000");
    assert.equal(env.TARGET_GROUP_ARN, inputs("web-tg").arn ?? env.TARGET_GROUP_ARN);
    assert.equal(env.AWS_REGION, "eu-west-1");
    assert.match(env.CHANGE as string, /^[0-9a-f]{64}$/);
  });

  test("rolling order, one host at a time: drain, change, register, then the next host", async () => {
    await evaluate(fleetArgs());
    const deps = await dependencies();
    const before = (a: string, b: string) =>
      assert.ok(deps.get(b)?.has(a), `${a} must come before ${b}`);
    for (let i = 0; i < 3; i++) {
      before(`web-${i}-drain`, `web-${i}-service-lifecycle`);
      before(`web-${i}-service-lifecycle`, `web-${i}-register`);
      if (i > 0) before(`web-${i - 1}-register`, `web-${i}-drain`);
    }
    // Files and VMs do not wait for the rollout: only the steps that disturb a host do.
    assert.ok(!deps.get("web-1-config-write")?.has("web-0-register"));
    assert.ok(!deps.get("web-2-vm-instance")?.has("web-1-register"));
  });

  test("maxUnavailable 2 of 4: hosts 0 and 1 change together, then 2 and 3", async () => {
    await evaluate(fleetArgs({ maxUnavailable: 2 }, 4));
    const deps = await dependencies();
    for (const i of [0, 1]) {
      assert.ok(![...(deps.get(`web-${i}-drain`) ?? [])].some((d) => /register/.test(d)));
    }
    for (const i of [2, 3]) {
      const d = deps.get(`web-${i}-drain`)!;
      assert.ok(d.has("web-0-register") && d.has("web-1-register"), `batch 2 waits for batch 1`);
      assert.ok(!d.has(`web-${5 - i}-register`), "not for its own batch");
    }
  });

  test("with an ACM certificate the ALB serves HTTPS and its HTTP port only redirects; Gunicorn trusts its X-Forwarded-Proto", async () => {
    const fleet = await evaluate(
      fleetArgs({
        vms: {
          count: 2,
          subnetIds: ["subnet-a", "subnet-b"],
          vm,
          certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
        },
      }),
    );
    const https = inputs("web-https");
    assert.equal(https.protocol, "HTTPS");
    assert.equal(https.port, 443);
    assert.equal(https.certificateArn, "arn:aws:acm:eu-west-1:123456789012:certificate/abc");
    assert.match(String(https.sslPolicy), /TLS13/);
    const http = inputs("web-http") as { defaultActions: { type: string; redirect?: unknown }[] };
    assert.deepEqual(http.defaultActions[0], {
      type: "redirect",
      redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" },
    });
    const sg = inputs("web-alb-sg") as { ingress: { fromPort: number }[] };
    assert.deepEqual(
      sg.ingress.map((i) => i.fromPort),
      [80, 443],
    );
    assert.match(await valueOf(fleet.url), /^https:\/\/.*\/$/);
    const config = contentOf(inputs("web-0-config-write"));
    assert.match(config, /^forwarded_allow_ips = "\*"$/m);
  });

  test("a release migrates once, on the first host, before any host switches (the rest of its batch waits)", async () => {
    await evaluate(
      fleetArgs(
        {
          maxUnavailable: 2,
          service: { ...fleetArgs().service, appSource: "examples/hello-django" },
        },
        4,
      ),
    );
    const deps = await dependencies();
    const script = async (i: number) => programOf(inputs(`web-${i}-service-lifecycle`));
    assert.match(await script(0), /^MIGRATE=1$/m);
    for (const i of [1, 2, 3]) {
      assert.match(await script(i), /^MIGRATE=/m);
      assert.doesNotMatch(await script(i), /^MIGRATE=1$/m, `host ${i}`);
    }
    assert.ok(deps.get("web-1-service-lifecycle")!.has("web-0-service-lifecycle"), "batch 1 waits");
    assert.ok(!deps.get("web-0-service-lifecycle")!.has("web-1-service-lifecycle"));
    assert.ok(!deps.get("web-1-drain")!.has("web-0-service-lifecycle"), "its drain does not");
  });

  test("a process run `once` (a scheduler) and the scheduled jobs run on the first host only; the rest everywhere", async () => {
    await evaluate(
      fleetArgs(
        {
          service: {
            ...fleetArgs().service,
            processes: {
              worker: "python -m celery -A mysite worker",
              beat: { command: "python -m celery -A mysite beat", once: true },
            },
            schedules: {
              clear: { command: "python manage.py clearsessions", schedule: "daily" },
              tmp: { command: "find /tmp -delete", schedule: "hourly", once: false },
            },
          },
        },
        3,
      ),
    );
    const names = new Set(registered.map((r) => r.name));
    for (const i of [0, 1, 2]) {
      assert.ok(names.has(`web-${i}-process-worker-lifecycle`), `host ${i} runs the worker`);
      assert.ok(names.has(`web-${i}-schedule-tmp-lifecycle`), `host ${i} cleans its /tmp`);
      assert.equal(names.has(`web-${i}-process-beat-lifecycle`), i === 0, `beat on host ${i}`);
      assert.equal(names.has(`web-${i}-schedule-clear-lifecycle`), i === 0, `clear on host ${i}`);
    }
  });

  test("migrateOnEveryHost: each host migrates its own database, and batches change together", async () => {
    await evaluate(
      fleetArgs(
        {
          maxUnavailable: 2,
          migrateOnEveryHost: true,
          service: { ...fleetArgs().service, appSource: "examples/hello-django" },
        },
        4,
      ),
    );
    const deps = await dependencies();
    for (const i of [0, 1, 2, 3]) {
      assert.match(programOf(inputs(`web-${i}-service-lifecycle`)), /^MIGRATE=1$/m, `host ${i}`);
    }
    assert.ok(!deps.get("web-1-service-lifecycle")!.has("web-0-service-lifecycle"));
  });

  test("a settings change touches each host's config, lifecycle, drain and register; never the ALB or a VM", async () => {
    const snapshot = async (workers: number) => {
      reset();
      await evaluate(fleetArgs({ service: { ...fleetArgs().service, workers } }, 2));
      return inputsByName();
    };
    const a = await snapshot(3);
    const b = await snapshot(5);
    const changed = [...a.keys()].filter((k) => a.get(k) !== b.get(k)).sort();
    assert.deepEqual(changed, [
      "web-0-config-write",
      "web-0-drain",
      "web-0-register",
      "web-0-service-lifecycle",
      "web-1-config-write",
      "web-1-drain",
      "web-1-register",
      "web-1-service-lifecycle",
    ]);
  });

  test("existing hosts with their own settings, behind the user's balancer commands", async () => {
    const host = (port: number) => ({
      connection: { host: "127.0.0.1", port, user: "deploy", privateKey: pulumi.secret("K") },
      settings: { bind: `127.0.0.1:${8000 + port}` },
    });
    const balancer = { drain: "lb drain", register: "lb add", deregister: "lb remove" };
    const fleet = await evaluate({
      service: { healthCheckPath: "/" },
      hosts: [host(1), host(2)],
      balancer,
    });
    assert.equal(fleet.services.length, 2);
    assert.equal(inputs("web-1-drain").update, "lb drain");
    assert.equal(inputs("web-1-register").create, "lb add");
    assert.equal(
      (inputs("web-1-register").environment as Record<string, string>).TARGET_PORT,
      "8002",
    );
    assert.match(contentOf(inputs("web-1-config-write")), /127\.0\.0\.1:8002/);
    assert.equal(registered.filter((r) => r.type.startsWith("aws:")).length, 0);
  });

  test("bad fleets fail at construction with what is allowed", () => {
    const cases: [GunicornFleetArgs, RegExp][] = [
      [fleetArgs({ maxUnavailable: 4 }), /'maxUnavailable' must be a whole number from 1 to 3/],
      [{ ...fleetArgs(), vms: { count: 2, subnetIds: ["subnet-a"], vm } }, /at least two subnets/],
      [{ service: {}, hosts: [] }, /needs 'balancer'/],
      [{ ...fleetArgs(), vms: { count: 0, subnetIds: ["a", "b"], vm } }, /1 to 100 hosts, got 0/],
      [{ service: {} }, /exactly one of 'vms'.*and 'hosts'/],
    ];
    for (const [args, message] of cases) {
      assert.throws(
        () => new GunicornFleet("bad", args),
        (e: unknown) => e instanceof pulumi.ResourceError && message.test(e.message),
        String(message),
      );
    }
  });

  test("behind the ALB the bind must listen on all addresses; a bad setting names its field", () => {
    const cases: [GunicornFleetArgs["service"], RegExp][] = [
      [{ bind: "127.0.0.1:8000" }, /invalid 'bind': .* must be 0\.0\.0\.0:PORT/],
      [{ bind: "unix:/run/x.sock" }, /invalid 'bind'/],
      [{ bind: "0.0.0.0:8000", workers: 0 }, /invalid 'workers'/],
    ];
    for (const [service, message] of cases) {
      reset();
      assert.throws(
        () => new GunicornFleet("bad", fleetArgs({ service }), { transformations: [recorder] }),
        (e: unknown) => e instanceof pulumi.ResourceError && message.test(e.message),
      );
      assert.deepEqual(
        registered.map((r) => r.name),
        ["bad"],
        "nothing was created",
      );
    }
  });
});

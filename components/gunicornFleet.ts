import { checkProcesses, processesOnHost, type ProcessOptions } from "./render/processes";
import { checkSchedules, schedulesOnHost, type ScheduleOptions } from "./render/schedules";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import { GunicornService, type GunicornServiceArgs } from "./gunicornService";
import { albCommands, rollingBatches, type BalancerCommands } from "./gunicornFleetPlan";
import { isPlain } from "./resourceHelpers";
import { normalizeSpec, parseBind, type ServiceSettings } from "./render/spec";
import type { VmArgs } from "./vmArgs";

export type { BalancerCommands } from "./gunicornFleetPlan";

/** The service settings of a fleet: GunicornService's, without where it runs. */
export type FleetServiceArgs = Omit<GunicornServiceArgs, "host" | "vm" | "lifecycleAfter">;

/** One existing host of a fleet, with settings of its own (e.g. its bind address). */
export interface FleetHost {
  /** SSH connection to the host. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** Settings for this host over the fleet's `service` (e.g. `bind`, `job`). @default {} */
  settings?: Partial<FleetServiceArgs>;
}

/** VMs of a fleet, behind a new Application Load Balancer. */
export interface FleetVms {
  /** How many VMs. */
  count: number;
  /** Subnets, used round robin; at least two, in two availability zones (an ALB needs them). */
  subnetIds: string[];
  /** Each VM's settings (keys, SSH CIDR, instance type, ...); subnet and app port are the fleet's. */
  vm: Omit<VmArgs, "subnetId" | "appPorts" | "allowedCidr">;
  /** Who may reach the load balancer. @default "0.0.0.0/0" */
  allowedCidr?: string;
  /** The load balancer's HTTP port. @default 80 */
  listenerPort?: number;
  /**
   * An ACM certificate's ARN: the load balancer then serves HTTPS on `httpsListenerPort` with
   * it (TLS 1.2 and 1.3) and its HTTP port only redirects there. @default unset (HTTP only)
   */
  certificateArn?: pulumi.Input<string>;
  /** With `certificateArn`: the load balancer's HTTPS port. @default 443 */
  httpsListenerPort?: number;
}

/** Arguments of {@link GunicornFleet}: exactly one of `vms` and `hosts`. */
export interface GunicornFleetArgs {
  /** What every host runs (the bind address must be TCP). */
  service: FleetServiceArgs;
  /** Provision VMs behind a new ALB. */
  vms?: FleetVms;
  /** Existing hosts, behind a balancer driven by `balancer`. */
  hosts?: FleetHost[];
  /** With `hosts`: the commands that drain and register a host. (The ALB's are built in.) */
  balancer?: BalancerCommands;
  /** Hosts changed at once in a rolling update; the others keep serving. @default 1 */
  maxUnavailable?: number;
  /**
   * Run `manage.py migrate` on every host, for a database of each host's own (SQLite). By
   * default the hosts share one database: a new release migrates once, on the first host,
   * before any host switches to it (the other hosts of the first batch wait for it).
   * @default false
   */
  migrateOnEveryHost?: boolean;
}

/** A promise of a resource made later in the constructor (dependsOn accepts one). */
function deferred(): { promise: Promise<pulumi.Resource>; resolve(r: pulumi.Resource): void } {
  let resolve!: (r: pulumi.Resource) => void;
  const promise = new Promise<pulumi.Resource>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The same GunicornService on N hosts behind a load balancer, with rolling updates: a change is
 * applied batch by batch (at most `maxUnavailable` hosts at once, in host order). For each host
 * of a batch: drain (out of the balancer, in-flight requests finished), change (the service's
 * lifecycle: reload or restart, then its health gate), register again and wait until the
 * balancer finds it healthy. The next batch starts only then, so the site never has fewer than
 * N - maxUnavailable hosts serving. Each step is a resource ordered by `dependsOn`, so preview
 * shows the plan, and a host that fails its health gate stops the rollout there.
 */
export class GunicornFleet extends pulumi.ComponentResource {
  /** The services, one per host, in host order. */
  public readonly services: GunicornService[];
  /** Per host: the step that drains it before its service changes. */
  public readonly drains: command.local.Command[];
  /** Per host: the step that registers it (and waits until healthy) after its service changed. */
  public readonly registrations: command.local.Command[];
  /** The site's URL: the load balancer's (with `vms`), else the first host's. */
  public readonly url: pulumi.Output<string>;
  /** With `vms`: the load balancer. */
  public readonly loadBalancer?: aws.lb.LoadBalancer;
  /** With `vms`: its target group, whose health check is the service's health gate request. */
  public readonly targetGroup?: aws.lb.TargetGroup;

  constructor(name: string, args: GunicornFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:GunicornFleet", name, {}, opts);
    const fail = (message: string) => new pulumi.ResourceError(`${name}: ${message}`, this);
    if ((args.vms === undefined) === (args.hosts === undefined)) {
      throw fail("exactly one of 'vms' (provision hosts behind an ALB) and 'hosts' is required");
    }
    if (args.hosts !== undefined && args.balancer === undefined) {
      throw fail("'hosts' needs 'balancer': the commands that drain and register a host");
    }
    const size = args.vms?.count ?? args.hosts?.length ?? 0;
    if (!Number.isInteger(size) || size < 1 || size > 100) {
      throw fail(`a fleet has 1 to 100 hosts, got ${String(size)}`);
    }
    const maxUnavailable = args.maxUnavailable ?? 1;
    if (!Number.isInteger(maxUnavailable) || maxUnavailable < 1 || maxUnavailable > size) {
      throw fail(
        `'maxUnavailable' must be a whole number from 1 to ${size}, got ${maxUnavailable}`,
      );
    }
    if (args.vms !== undefined && args.vms.subnetIds.length < 2) {
      throw fail(
        "an Application Load Balancer needs at least two subnets, in two availability zones",
      );
    }
    // The balancer needs each host's port and the health settings: the service's own checks,
    // plus a TCP bind it can reach (all addresses, behind the ALB). Plain settings are checked
    // now, before any child exists; computed ones when they resolve.
    const checkFleetSpec = (s: ServiceSettings) => {
      try {
        const n = normalizeSpec({ ...s, releases: args.service.appSource !== undefined });
        const bind = parseBind("bind", n.bind);
        const open = bind.kind === "tcp" && /^(0\.0\.0\.0|\[::\])$/.test(bind.host);
        if (bind.kind !== "tcp" || (args.vms !== undefined && !open)) {
          throw new Error(
            `invalid 'bind': behind a load balancer it must be ${args.vms !== undefined ? "0.0.0.0:PORT (all addresses)" : "HOST:PORT"}, got ${JSON.stringify(n.bind)}`,
          );
        }
        return { ...n, port: bind.port };
      } catch (e) {
        throw fail((e as Error).message);
      }
    };
    const settingsOf = (i: number) =>
      ({ ...args.service, ...(args.hosts?.[i]?.settings ?? {}) }) as ServiceSettings;
    for (let i = 0; i < size; i++) {
      const settings = settingsOf(i);
      if (isPlain(settings)) {
        checkFleetSpec(settings);
      }
    }
    const specOf = (i: number) =>
      pulumi.output(settingsOf(i)).apply((s) => checkFleetSpec(s as ServiceSettings));
    const spec = specOf(0);

    const drainsReady = Array.from({ length: size }, deferred);
    const services: GunicornService[] = [];
    const batches = rollingBatches(size, maxUnavailable);
    // Migrations run once, on the first host, before any host switches: the others skip them,
    // and those of the first batch (the later batches wait anyway) start after its lifecycle.
    const once = args.migrateOnEveryHost !== true;
    // Processes marked `once` (a scheduler) and scheduled jobs (unless `once: false`) run on the
    // first host only, wherever migrations run.
    const onlyFirstMigrates = (i: number): Partial<FleetServiceArgs> => ({
      ...(once && i > 0 ? { migrate: false } : {}),
      ...(i > 0 && args.service.processes !== undefined
        ? { processes: processesBesideFirst(args.service.processes) }
        : {}),
      ...(i > 0 && args.service.schedules !== undefined
        ? { schedules: schedulesBesideFirst(args.service.schedules) }
        : {}),
    });
    const afterMigration = (i: number): pulumi.Resource[] =>
      once && i > 0 && batches[i] === 0 ? [services[0]!.lifecycle] : [];
    const targetIds: pulumi.Output<string>[] = [];
    const env: Record<string, pulumi.Input<string>> = {};
    let balancer: BalancerCommands;
    if (args.vms !== undefined) {
      const vms = args.vms;
      const port = vms.listenerPort ?? 80;
      const subnet = aws.ec2.getSubnetOutput({ id: vms.subnetIds[0] as string }, { parent: this });
      const vpcCidr = aws.ec2.getVpcOutput({ id: subnet.vpcId }, { parent: this }).cidrBlock;
      const httpsPort = vms.httpsListenerPort ?? 443;
      const tls = vms.certificateArn !== undefined;
      const listenerPorts = tls ? [port, httpsPort] : [port];
      const albSg = new aws.ec2.SecurityGroup(
        `${name}-alb-sg`,
        {
          description: `HTTP${tls ? " and HTTPS" : ""} to the load balancer of ${name}`,
          vpcId: subnet.vpcId,
          ingress: listenerPorts.map((p) => ({
            protocol: "tcp",
            fromPort: p,
            toPort: p,
            cidrBlocks: [vms.allowedCidr ?? "0.0.0.0/0"],
            description: p === port ? "HTTP" : "HTTPS",
          })),
          egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
        },
        { parent: this },
      );
      const alb = new aws.lb.LoadBalancer(
        `${name}-alb`,
        { loadBalancerType: "application", subnets: vms.subnetIds, securityGroups: [albSg.id] },
        { parent: this },
      );
      const tg = new aws.lb.TargetGroup(
        `${name}-tg`,
        {
          port: spec.port,
          protocol: "HTTP",
          targetType: "instance",
          vpcId: subnet.vpcId,
          // How long a draining host gets for its in-flight requests: Gunicorn's own grace.
          deregistrationDelay: spec.gracefulTimeout,
          healthCheck: {
            path: spec.healthCheckPath,
            matcher: spec.healthyStatusBelow.apply((below) => `200-${below - 1}`),
            interval: 10,
            timeout: 5,
            healthyThreshold: 2,
            unhealthyThreshold: 2,
          },
        },
        { parent: this },
      );
      const forward = [{ type: "forward", targetGroupArn: tg.arn }];
      new aws.lb.Listener(
        `${name}-http`,
        {
          loadBalancerArn: alb.arn,
          port,
          protocol: "HTTP",
          // With a certificate, plain HTTP only redirects (the path and query kept).
          defaultActions: tls
            ? [
                {
                  type: "redirect",
                  redirect: { protocol: "HTTPS", port: String(httpsPort), statusCode: "HTTP_301" },
                },
              ]
            : forward,
        },
        { parent: this },
      );
      if (tls) {
        new aws.lb.Listener(
          `${name}-https`,
          {
            loadBalancerArn: alb.arn,
            port: httpsPort,
            protocol: "HTTPS",
            certificateArn: vms.certificateArn,
            sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
            defaultActions: forward,
          },
          { parent: this },
        );
      }
      this.loadBalancer = alb;
      this.targetGroup = tg;
      this.url = tls
        ? pulumi.interpolate`https://${alb.dnsName}${httpsPort === 443 ? "" : `:${httpsPort}`}/`
        : pulumi.interpolate`http://${alb.dnsName}:${port}/`;
      balancer = albCommands();
      env.TARGET_GROUP_ARN = tg.arn;
      env.AWS_REGION = aws.getRegionOutput({}, { parent: this }).region;
      for (let i = 0; i < size; i++) {
        const svc = new GunicornService(
          `${name}-${i}`,
          {
            ...args.service,
            vm: {
              ...vms.vm,
              subnetId: vms.subnetIds[i % vms.subnetIds.length] as string,
              // The app port only from inside the VPC, that is from the load balancer.
              allowedCidr: vpcCidr,
            },
            ...onlyFirstMigrates(i),
            // TLS ends at the load balancer: Gunicorn trusts its X-Forwarded-Proto (the app
            // port is open to the VPC only), so Django sees https.
            ...(tls && args.service.forwardedAllowIps === undefined
              ? { forwardedAllowIps: "*" }
              : {}),
            lifecycleAfter: [drainsReady[i]!.promise, ...afterMigration(i)],
          },
          { parent: this },
        );
        services.push(svc);
        targetIds.push(svc.vm!.instanceId);
      }
    } else {
      balancer = args.balancer as BalancerCommands;
      (args.hosts as FleetHost[]).forEach((h, i) => {
        const svc = new GunicornService(
          `${name}-${i}`,
          {
            ...args.service,
            ...onlyFirstMigrates(i),
            ...h.settings,
            host: h.connection,
            lifecycleAfter: [drainsReady[i]!.promise, ...afterMigration(i)],
          },
          { parent: this },
        );
        services.push(svc);
        // The address only: the connection (with its key) is a secret, the address is not.
        targetIds.push(svc.publicAddress);
      });
      this.url = services[0]!.url;
    }
    this.services = services;

    // Batch b's drains wait for batch b-1's registrations; a host's lifecycle waits for its
    // drain; its registration waits for its whole service (lifecycle and health gate).
    this.drains = [];
    this.registrations = [];
    for (let i = 0; i < size; i++) {
      const stepEnv = {
        ...env,
        TARGET_INDEX: String(i),
        TARGET_ID: targetIds[i]!,
        TARGET_PORT: specOf(i).port.apply(String),
        // Read by no command: it changes, and so runs the update, exactly when the host changes.
        CHANGE: services[i]!.changeHash,
      };
      const previous = this.registrations.filter((_, j) => batches[j] === batches[i]! - 1);
      const drain = new command.local.Command(
        `${name}-${i}-drain`,
        {
          // Before the first start the host is in no balancer: nothing to drain.
          create: "true",
          update: balancer.drain,
          environment: stepEnv,
          logging: "stdoutAndStderr",
        },
        { parent: this, dependsOn: previous },
      );
      drainsReady[i]!.resolve(drain);
      this.drains.push(drain);
      this.registrations.push(
        new command.local.Command(
          `${name}-${i}-register`,
          {
            create: balancer.register,
            update: balancer.register,
            delete: balancer.deregister,
            environment: stepEnv,
            logging: "stdoutAndStderr",
          },
          { parent: this, dependsOn: [services[i]!] },
        ),
      );
    }
    this.registerOutputs({ url: this.url });
  }
}

/**
 * The processes of a fleet's other hosts: all but those run `once`. A value the check refuses
 * is passed on as it is, for each service to refuse with its own name.
 */
function processesBesideFirst(
  raw: Record<string, string | ProcessOptions>,
): Record<string, string | ProcessOptions> {
  try {
    return processesOnHost(checkProcesses("processes", raw), false);
  } catch {
    return raw;
  }
}

/** The scheduled jobs of a fleet's other hosts: those with `once: false`. */
function schedulesBesideFirst(
  raw: Record<string, ScheduleOptions>,
): Record<string, ScheduleOptions> {
  try {
    return schedulesOnHost(checkSchedules("schedules", raw), false);
  } catch {
    return raw;
  }
}

/**
 * The steps of one `up` of a {@link GunicornService}, in the order the README lists them and
 * the constructor calls them: check the settings; 1. the machine; 2. the host preparation
 * (`-host-prepare`); 3. the virtualenv (`-python-install`); 4. the host files (`-*-write`);
 * 5. the release (`-release-copy`, `-release-upload`); 6. the lifecycle
 * (`-service-lifecycle`); then nginx (`-nginx-*`). Each step creates its children parented to
 * the service and returns what later steps and the service's outputs need; none of them
 * reaches into another's children.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { AppRelease } from "./appRelease";
import { BackgroundProcess } from "./backgroundProcess";
import { ScheduledJob } from "./scheduledJob";
import { checkSchedules } from "./render/schedules";
import { checkOneOf } from "./render/checks";
import { INITS } from "./render/settings";
import type { GunicornServiceArgs, HostPreparation, PythonEnvOptions } from "./gunicornService";
import { HostSetup } from "./hostSetup";
import { NginxSite } from "./nginxSite";
import { PythonEnv } from "./pythonEnv";
import { RemoteFile } from "./remoteFile";
import { HOST_FILES, type HostFileRole } from "./render/hostFiles";
import {
  DEFAULT_HOST_PACKAGES,
  NGINX_PACKAGES,
  type DirSpec,
  type HostSetupSpec,
  type PythonEnvSpec,
} from "./render/hostScripts";
import { logDirs } from "./render/launcher";
import { renderManifest, sha256, type ServiceFiles } from "./render/lifecycleScripts";
import { renderSudoHelper, type HelperRef } from "./render/sudoHelper";
import { isPlain, validated } from "./resourceHelpers";
import { ServiceLifecycle } from "./serviceLifecycle";
import { SETTING_NAMES } from "./render/settings";
import { checkProcesses } from "./render/processes";
import {
  appEnvironment,
  checkEnv,
  checkSudoFor,
  normalizeSpec,
  parseBind,
  runsMasterAsRoot,
  SpecError,
  type ServiceSettings,
  type ServiceSpec,
} from "./render/spec";
import { newVm, type VmOutputs } from "./vmArgs";

type Connection = command.types.input.remote.ConnectionArgs;

/** What every step after the machine works with. */
export interface ServiceStep {
  /** The service's name: its children are named `${name}-<role>`. */
  name: string;
  /** The service: every child's parent. */
  parent: pulumi.ComponentResource;
  /** The checked settings. */
  spec: pulumi.Output<ServiceSpec>;
  /** SSH connection to the host (secret: it holds the key). */
  connection: pulumi.Output<Connection>;
}

/** The service's settings and app environment, checked. */
export interface CheckedService {
  spec: pulumi.Output<ServiceSpec>;
  appEnv: pulumi.Output<Record<string, string>>;
}

/**
 * Checks where the service runs, its settings and its app environment. Plain settings (the
 * usual case: stack config) are checked here, before any child exists, so a bad value never
 * leaves a half-configured host, not even with `up --skip-preview`; settings known only later
 * are checked when they resolve.
 */
export function checkService(
  name: string,
  parent: pulumi.ComponentResource,
  args: GunicornServiceArgs,
): CheckedService {
  if ((args.host === undefined) === (args.vm === undefined)) {
    throw new pulumi.ResourceError(
      `${name}: exactly one of 'host' (an existing host) and 'vm' (provision one) is required`,
      parent,
    );
  }

  const settings: Record<string, unknown> = {};
  for (const key of SETTING_NAMES) settings[key] = args[key];
  settings.releases = args.appSource !== undefined;
  const needsRoot = [
    ...(args.prepareHost !== undefined && args.prepareHost !== false ? ["prepareHost"] : []),
    ...(args.pythonEnv !== undefined ? ["pythonEnv"] : []),
  ];
  const validate = (s: ServiceSettings): ServiceSpec => {
    return validated(name, parent, () => {
      const spec = normalizeSpec(s);
      checkSudoFor(spec, needsRoot);
      const certificate = args.tlsCertificate !== undefined && args.tlsKey !== undefined;
      // A site mounted on another job's uses that site's certificate.
      const ownSite = spec.nginx && spec.nginxMountOn === undefined;
      if (ownSite && (spec.tls === "certificate") !== certificate) {
        throw new SpecError(
          "tls",
          spec.tls === "certificate"
            ? '"certificate" needs the tlsCertificate and tlsKey arguments (PEM; the key a secret)'
            : `tlsCertificate and tlsKey are given, so tls must be "certificate", got ${JSON.stringify(spec.tls)}`,
        );
      }
      return spec;
    });
  };
  if (isPlain(settings)) validate(settings as ServiceSettings);
  const spec = pulumi.output(settings).apply((s) => validate(s as ServiceSettings));
  const appEnv = pulumi.all([spec, args.appEnv ?? {}]).apply(([s, env]) => {
    return validated(name, parent, () => {
      const checked = checkEnv("appEnv", env, false);
      appEnvironment(s, checked); // a name a setting sets too is refused here, early
      return checked;
    });
  });
  return { spec, appEnv };
}

/** The machine the service runs on: how to reach it, and the VM when the service made one. */
export interface Machine {
  connection: pulumi.Output<Connection>;
  /** The host's address, not a secret. */
  publicAddress: pulumi.Output<string>;
  vm?: VmOutputs & pulumi.ComponentResource;
}

/** Step 1: provisions the VM (`${name}-vm`) when `vm` is set, else takes the given host. */
export function provideMachine(
  name: string,
  parent: pulumi.ComponentResource,
  args: GunicornServiceArgs,
  spec: pulumi.Output<ServiceSpec>,
): Machine {
  if (args.vm !== undefined) {
    // What clients reach: nginx's ports with nginx, else Gunicorn's when not on loopback.
    const appPorts = spec.apply((s) => {
      if (s.nginx) return s.tls === "off" ? [s.httpPort] : [s.httpPort, s.httpsPort];
      const bind = parseBind("bind", s.bind);
      return bind.kind === "tcp" && !isLoopback(bind.host) ? [bind.port] : [];
    });
    const init = spec.apply((s) => s.init);
    const vm = newVm(`${name}-vm`, { init, ...args.vm, appPorts }, { parent });
    return { connection: vm.connection, publicAddress: vm.publicIp, vm };
  }
  return {
    connection: pulumi.secret(pulumi.output(args.host as pulumi.Input<Connection>)),
    // The address is not a secret even when the connection (with its key) is.
    publicAddress: pulumi.unsecret(pulumi.output(args.host).apply((h) => h?.host ?? "")),
  };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host.startsWith("127.") || host === "[::1]";
}

/**
 * Step 2, with `prepareHost`: the user, group, directories and packages (`${name}-host`).
 * Everything after waits for it: the files need the group (the config is root:<group>).
 */
export function prepareHost(
  step: ServiceStep,
  prepareHost: boolean | HostPreparation | undefined,
): HostSetup | undefined {
  if (prepareHost === undefined || prepareHost === false) return undefined;
  const prep = prepareHost === true ? {} : prepareHost;
  return new HostSetup(
    `${step.name}-host`,
    { connection: step.connection, spec: step.spec.apply((s) => hostSetupSpec(s, prep)) },
    { parent: step.parent },
  );
}

/** The host preparation a service needs: its user and the directories it writes or runs in. */
export function hostSetupSpec(s: ServiceSpec, prep: HostPreparation): HostSetupSpec {
  const dirs: DirSpec[] = [];
  const add = (path: string, owner: string, group: string, mode: string) => {
    if (!dirs.some((d) => d.path === path)) dirs.push({ path, owner, group, mode });
  };
  // Releases are unpacked by root and only read by the app; a plain project dir is the app's.
  if (s.appRoot !== undefined) add(s.appRoot, "root", s.group, "0755");
  else add(s.projectDir, s.user, s.group, "0755");
  // A root master follows links when it opens and chowns its logs: their directory is then
  // root's alone, or the app user could aim them at any file.
  for (const dir of logDirs(s)) add(dir, runsMasterAsRoot(s) ? "root" : s.user, s.group, "0750");
  // The app's own data (a SQLite database): the app's alone, made before mediaRoot, which may be
  // in it; nginx (another user) then needs to pass through it to the uploads, and only that.
  if (s.dataDir !== undefined) {
    const mediaInside = s.mediaRoot !== undefined && s.mediaRoot.startsWith(`${s.dataDir}/`);
    add(s.dataDir, s.user, s.group, s.nginx && mediaInside ? "0751" : "0750");
  }
  // Uploads: the app writes them, nginx (another user) reads them.
  if (s.mediaRoot !== undefined) add(s.mediaRoot, s.user, s.group, "0755");
  return {
    user: s.user,
    group: s.group,
    home: s.appRoot ?? s.projectDir,
    packages: prep.packages ?? [
      ...DEFAULT_HOST_PACKAGES[s.init],
      ...(s.nginx ? NGINX_PACKAGES : []),
    ],
    directories: dirs,
    waitForCloudInit: prep.waitForCloudInit ?? true,
  };
}

/** Step 3, with `pythonEnv`: the virtualenv (`${name}-python`), after the host preparation. */
export function buildPythonEnv(
  step: ServiceStep,
  env: PythonEnvOptions | undefined,
  prepared: pulumi.Resource[],
): PythonEnv | undefined {
  if (env === undefined) return undefined;
  return new PythonEnv(
    `${step.name}-python`,
    {
      connection: step.connection,
      spec: step.spec.apply((s) => pythonEnvSpec(s, env)),
      ...(env.requirements !== undefined ? { requirements: env.requirements } : {}),
    },
    { parent: step.parent, dependsOn: [...prepared] },
  );
}

/** The virtualenv build for a service. */
export function pythonEnvSpec(s: ServiceSpec, env: PythonEnvOptions): PythonEnvSpec {
  return {
    virtualenv: s.virtualenv,
    user: s.user,
    python: env.python ?? "python3",
    systemSitePackages: env.systemSitePackages ?? false,
    packages: env.packages ?? ["gunicorn"],
    ...(env.indexUrl !== undefined ? { indexUrl: env.indexUrl } : {}),
    ...(env.wheelhouse !== undefined ? { wheelhouse: env.wheelhouse } : {}),
  };
}

/** With `sudo: "helper"`: the helper file to install, and the reference the commands carry. */
export interface SudoHelper {
  /** What every command calls (path and shape), unset without the helper. */
  ref: pulumi.Output<HelperRef | undefined>;
  /** The helper to install on the host as root, unset without the helper. */
  file: pulumi.Output<{ path: string; content: string } | undefined>;
}

/**
 * With sudo "helper", every command is an operation of the job's helper, whose shape (a hash
 * of what is fixed in it) the commands carry, so a stale helper fails with what to do. No
 * resource: the helper is installed by root, out of band.
 */
export function sudoHelper(spec: pulumi.Output<ServiceSpec>): SudoHelper {
  const rendered = spec.apply((s) => (s.sudo === "helper" ? renderSudoHelper(s) : undefined));
  return {
    ref: rendered.apply((h) => (h ? { path: h.path, shape: h.shape } : undefined)),
    file: rendered.apply((h) => (h ? { path: h.path, content: h.content } : undefined)),
  };
}

/** The host files' resources the service reads back; the others (the manage command) only exist. */
export interface HostFiles {
  job: RemoteFile;
  launcher: RemoteFile;
  /** The server hooks' module the config runs. */
  hooks: RemoteFile;
  config: RemoteFile;
  /** Unless `logrotate` is false. */
  logrotate?: RemoteFile;
}

/**
 * Step 4: one resource per host file the service has (`${name}-<role>`, in the order of
 * HOST_FILES), after the host preparation. Only the Gunicorn config sees appEnv, so the others
 * stay readable when appEnv holds secrets.
 */
export function writeHostFiles(
  step: ServiceStep,
  args: GunicornServiceArgs,
  appEnv: pulumi.Output<Record<string, string>>,
  helper: pulumi.Output<HelperRef | undefined>,
  prepared: pulumi.Resource[],
): HostFiles {
  const { spec } = step;
  const hostFiles: Partial<Record<HostFileRole, RemoteFile>> = {};
  for (const host of HOST_FILES) {
    if (host.presentWith !== undefined && args[host.presentWith] === false) continue;
    const target = spec.apply((s) => host.target(s));
    const content = host.appEnv
      ? pulumi.all([spec, appEnv]).apply(([s, env]) => host.render(s, env))
      : spec.apply((s) => host.render(s, {}));
    hostFiles[host.role] = new RemoteFile(
      `${step.name}-${host.role}`,
      {
        connection: step.connection,
        path: target.path,
        owner: target.owner,
        group: target.group,
        mode: target.mode,
        content,
        pythonCache: host.pythonCache,
        systemdReload: spec.apply((s) => host.systemdReload(s)),
        helper,
        role: host.role,
      },
      // The config runs the hooks' module: never on a host without it (a respawn between the
      // two writes would find no module).
      {
        parent: step.parent,
        dependsOn:
          host.role === "config" && hostFiles.hooks ? [...prepared, hostFiles.hooks] : prepared,
      },
    );
  }
  return {
    // Job, launcher, hooks and config have no `presentWith`: every service has them.
    job: hostFiles.job as RemoteFile,
    launcher: hostFiles.launcher as RemoteFile,
    hooks: hostFiles.hooks as RemoteFile,
    config: hostFiles.config as RemoteFile,
    logrotate: hostFiles.logrotate,
  };
}

/**
 * Step 5, with `appSource`: the app's code as a release (`${name}-release`), uploaded after
 * the host preparation and before the service switches to it.
 */
export function uploadRelease(
  step: ServiceStep,
  source: pulumi.Input<string> | undefined,
  helper: pulumi.Output<HelperRef | undefined>,
  prepared: pulumi.Resource[],
): AppRelease | undefined {
  if (source === undefined) return undefined;
  return new AppRelease(
    `${step.name}-release`,
    {
      connection: step.connection,
      source,
      appRoot: step.spec.apply((s) => s.appRoot as string),
      helper,
    },
    { parent: step.parent, dependsOn: prepared },
  );
}

/** What the lifecycle runs after and acts on. */
export interface ServiceInputs {
  files: HostFiles;
  release: AppRelease | undefined;
  pythonEnv: PythonEnv | undefined;
  /** The service's `lifecycleAfter`. */
  after: pulumi.Input<pulumi.Resource>[];
  helper: pulumi.Output<HelperRef | undefined>;
}

/** The service as started, and the hash of what it runs. */
export interface StartedService {
  lifecycle: ServiceLifecycle;
  /** Changes exactly when the lifecycle acts. */
  changeHash: pulumi.Output<string>;
}

/**
 * Step 6: the lifecycle (`${name}-service`), which starts the service after its files, the
 * release and the virtualenv, and stops it before they go. It decides reload or restart from
 * the contents of job, launcher and config and the release id.
 */
export function startService(step: ServiceStep, inputs: ServiceInputs): StartedService {
  const {
    job: jobFile,
    launcher: launcherFile,
    hooks: hooksFile,
    config: configFile,
  } = inputs.files;
  // Besides the files, what the service runs: the release, then the virtualenv, where they exist.
  const written = [inputs.release, inputs.pythonEnv].filter((r) => r !== undefined);
  const releaseId: pulumi.Output<string | undefined> =
    inputs.release?.releaseId ?? pulumi.output(undefined);
  const files: pulumi.Output<ServiceFiles> = pulumi
    .all([jobFile.content, launcherFile.content, configFile.content, releaseId])
    .apply(([job, launcher, gunicornConfig, release]) => ({
      job,
      launcher,
      gunicornConfig,
      ...(release !== undefined ? { release } : {}),
    }));
  const changeHash = files.apply((f) => sha256(renderManifest(f)));
  const lifecycle = new ServiceLifecycle(
    `${step.name}-service`,
    {
      connection: step.connection,
      spec: step.spec,
      files,
      after: inputs.after,
      // The hooks' module is not in the manifest: the config names its hash, so a new module
      // is a new config, which reloads.
      fileResources: [jobFile, launcherFile, hooksFile, configFile, ...written],
      writes: [
        jobFile.written,
        launcherFile.written,
        configFile.written,
        ...written.map((r) => r.written),
      ],
      helper: inputs.helper,
    },
    { parent: step.parent },
  );
  return { lifecycle, changeHash };
}

/**
 * Then, with `nginx`: the site in front (`${name}-nginx`), put in service once Gunicorn serves
 * (after the lifecycle), and so taken out before Gunicorn stops.
 */
export function putNginxInFront(
  step: ServiceStep,
  args: GunicornServiceArgs,
  address: pulumi.Output<string>,
  lifecycle: ServiceLifecycle,
): NginxSite | undefined {
  if (args.nginx !== true) return undefined;
  return new NginxSite(
    `${step.name}-nginx`,
    {
      connection: step.connection,
      spec: step.spec,
      address,
      ...(args.tlsCertificate !== undefined ? { tlsCertificate: args.tlsCertificate } : {}),
      ...(args.tlsKey !== undefined ? { tlsKey: args.tlsKey } : {}),
      after: [lifecycle],
    },
    { parent: step.parent },
  );
}

/**
 * Then, with `processes`: each process beside the web (`${name}-process-<name>`), its files
 * written with the service's and started (or restarted) once the web is healthy: after the
 * release's tasks ran and it serves, so a worker never runs code the web does not.
 */
export function runProcesses(
  step: ServiceStep,
  args: GunicornServiceArgs,
  appEnv: pulumi.Output<Record<string, string>>,
  inputs: {
    release: AppRelease | undefined;
    pythonEnv: PythonEnv | undefined;
    /** The Gunicorn config's write: it holds the environment. */
    config: RemoteFile;
  },
  prepared: pulumi.Resource[],
  helper: pulumi.Output<HelperRef | undefined>,
  started: StartedService,
): BackgroundProcess[] {
  if (args.processes === undefined) return [];
  // A plain value (it decides which resources exist), checked with the rest in checkService.
  const names = validated(step.name, step.parent, () =>
    Object.keys(checkProcesses("processes", args.processes)),
  );
  const env = pulumi.all([step.spec, appEnv]).apply(([s, e]) => appEnvironment(s, e));
  return names.map(
    (proc) =>
      new BackgroundProcess(
        `${step.name}-process-${proc}`,
        {
          connection: step.connection,
          spec: step.spec,
          process: proc,
          appEnv: env,
          release: inputs.release?.releaseId,
          virtualenv: inputs.pythonEnv?.written,
          prepared,
          after: [started.lifecycle],
          helper,
          writes: [
            inputs.config.written,
            ...[inputs.release, inputs.pythonEnv].flatMap((r) => (r ? [r.written] : [])),
          ],
        },
        { parent: step.parent },
      ),
  );
}

/**
 * Then, with `schedules`: each scheduled job (`${name}-schedule-<name>`), turned on once the
 * web serves its release. Which files a job has follows the init (a timer, or a cron entry),
 * so with schedules `init` must be a plain value.
 */
export function runSchedules(
  step: ServiceStep,
  args: GunicornServiceArgs,
  prepared: pulumi.Resource[],
  helper: pulumi.Output<HelperRef | undefined>,
  started: StartedService,
): ScheduledJob[] {
  if (args.schedules === undefined) return [];
  const { names, init } = validated(step.name, step.parent, () => {
    const raw = args.init ?? "upstart";
    if (typeof raw !== "string") {
      throw new SpecError(
        "init",
        "must be a plain value with schedules (it decides between a timer and a cron entry)",
      );
    }
    return {
      names: Object.keys(checkSchedules("schedules", args.schedules)),
      init: checkOneOf("init", raw, INITS),
    };
  });
  return names.map(
    (job) =>
      new ScheduledJob(
        `${step.name}-schedule-${job}`,
        {
          connection: step.connection,
          spec: step.spec,
          schedule: job,
          init,
          prepared,
          after: [started.lifecycle],
          helper,
        },
        { parent: step.parent },
      ),
  );
}

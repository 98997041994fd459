import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { AppRelease } from "./appRelease";
import { HostSetup } from "./hostSetup";
import { PythonEnv } from "./pythonEnv";
import {
  DEFAULT_HOST_PACKAGES,
  NGINX_PACKAGES,
  type DirSpec,
  type HostSetupSpec,
  type PythonEnvSpec,
} from "./render/hostScripts";
import { logDirs } from "./render/launcher";
import { RemoteFile } from "./remoteFile";
import { HOST_FILES, type HostFileRole } from "./render/hostFiles";
import { renderSudoHelper, type HelperRef } from "./render/sudoHelper";
import { renderManifest, sha256 } from "./render/lifecycleScripts";
import {
  appEnvironment,
  checkEnv,
  normalizeSpec,
  parseBind,
  runsMasterAsRoot,
  type ServiceSettings,
  type ServiceSpec,
  checkSudoFor,
  SpecError,
} from "./spec";
import { ServiceLifecycle } from "./serviceLifecycle";
import { NginxSite } from "./nginxSite";
import { SETTING_NAMES } from "./settings";
import type { ServiceSettingArgs } from "./settingArgs";
import { isPlain, validated } from "./resourceHelpers";
import { newVm, type VmArgs, type VmOutputs } from "./vmArgs";

/**
 * Arguments of {@link GunicornService}: every setting of the settings table (generated into
 * {@link ServiceSettingArgs}; defaults are the recipe's values), plus where it runs and what it
 * deploys.
 */
export interface GunicornServiceArgs extends ServiceSettingArgs {
  /** An existing host to configure over SSH. Exactly one of `host` and `vm` is required. */
  host?: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** Provision an EC2 instance for the service. Exactly one of `host` and `vm` is required. */
  vm?: VmArgs;

  /** Environment of the app, e.g. `DJANGO_SETTINGS_MODULE`; values may be secrets (reloads). @default {} */
  appEnv?: pulumi.Input<Record<string, pulumi.Input<string>>>;

  /**
   * Local directory of the app to deploy as releases: packed, uploaded to
   * `<appRoot>/releases/<id>`, checked (it must import), switched to via the `current` symlink
   * and served by a reload; rolled back when the health gate fails. `projectDir` is then
   * `<appRoot>/current`. @default unset (the app is already in projectDir)
   */
  appSource?: pulumi.Input<string>;

  /**
   * Prepare a bare host first: wait for cloud-init, install missing `packages` (default
   * python3 and python3-venv) with apt-get, create the group and user (system account, no login
   * shell) and the app and log directories when missing. Nothing of it is removed on destroy.
   * @default false (the host is prepared already, as the recipe assumed)
   */
  prepareHost?: boolean | HostPreparation;
  /**
   * Build the virtualenv at `virtualenv` with Gunicorn and the app's requirements; runs again
   * only when the requirements, the interpreter or the pip options change.
   * @default unset (the virtualenv exists already)
   */
  pythonEnv?: PythonEnvOptions;
  /**
   * With `nginx` and `tls: "certificate"`: the certificate (with its chain), PEM, written to
   * `tlsCertificateFile`. @default unset
   */
  tlsCertificate?: pulumi.Input<string>;
  /**
   * With `nginx` and `tls: "certificate"`: the certificate's private key, PEM, written to
   * `tlsKeyFile` (root, 0600); kept a secret in the state. @default unset
   */
  tlsKey?: pulumi.Input<string>;
  /**
   * Resources the service's lifecycle (start, reload, restart) runs after, besides its own
   * files: how a fleet makes each host wait for its drain and for the hosts before it.
   * @default []
   */
  lifecycleAfter?: pulumi.Input<pulumi.Resource>[];
}

/** Options of `prepareHost`. */
export interface HostPreparation {
  /** OS packages installed with apt-get when missing. @default by init: upstart ["python3", "python3.4-venv"], systemd ["python3", "python3-venv"] */
  packages?: string[];
  /** Wait for cloud-init to finish first. @default true */
  waitForCloudInit?: boolean;
}

/** Options of `pythonEnv`. */
export interface PythonEnvOptions {
  /** Content of the app's requirements.txt. @default "" */
  requirements?: pulumi.Input<string>;
  /** Interpreter that makes the virtualenv; a new version rebuilds it. @default "python3" */
  python?: string;
  /** See the system's site packages (e.g. Debian's python3-django). @default false */
  systemSitePackages?: boolean;
  /** Installed besides the requirements. @default ["gunicorn"] */
  packages?: string[];
  /** pip --index-url, for a private index. @default unset (PyPI) */
  indexUrl?: string;
  /** A wheelhouse directory on the host: pip --no-index --find-links, for hosts without internet. */
  wheelhouse?: string;
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

/** A file the service wrote: where and what. */
export interface WrittenFile {
  path: string;
  content: string;
}

/**
 * A Gunicorn app run by Upstart or systemd: provisions a VM (or takes an existing host), writes the job,
 * the launcher and the Gunicorn config, and manages the service: start on create, reload or
 * restart on change, stop before its files are removed on destroy.
 */
export class GunicornService extends pulumi.ComponentResource {
  /** The host's address (the VM's public IP, or the given host). */
  public readonly publicAddress: pulumi.Output<string>;
  /** URL of the app: its nginx site's with `nginx`, else Gunicorn's bind (reachable from outside only when not loopback). */
  public readonly url: pulumi.Output<string>;
  /** With `nginx` and TLS: the certificate nginx serves (PEM), e.g. for `curl --cacert`. */
  public readonly tlsCertificate: pulumi.Output<string | undefined>;
  /** With `nginx`: the nginx site. */
  public readonly nginxSite?: NginxSite;
  /** The job's name: the Upstart job or the systemd unit. */
  public readonly jobName: pulumi.Output<string>;
  /** The job file: `/etc/init/<job>.conf` and its content. */
  public readonly jobFile: pulumi.Output<WrittenFile>;
  /** The launcher the job execs. */
  public readonly launcherFile: pulumi.Output<WrittenFile>;
  /** The Gunicorn config file (secret when `appEnv` holds a secret). */
  public readonly gunicornConfigFile: pulumi.Output<WrittenFile>;
  /** The logrotate rule, unless `logrotate` is false. */
  public readonly logrotateFile?: pulumi.Output<WrittenFile>;
  /** What the last `up` did to the service, e.g. `django-project: reload (master pid 4242)`. */
  public readonly status: pulumi.Output<string>;
  /** With `sudo: "helper"`, the helper to install on the host as root (path and content). */
  public readonly sudoHelper: pulumi.Output<WrittenFile | undefined>;
  /** The resource that starts, reloads, restarts and stops the service. */
  public readonly lifecycle: ServiceLifecycle;
  /** A hash of everything the running service depends on: changes exactly when the lifecycle acts. */
  public readonly changeHash: pulumi.Output<string>;
  /** The VM, when this service provisioned one. */
  public readonly vm?: VmOutputs & pulumi.ComponentResource;
  /** The app release, when `appSource` is set; `release.releaseId` is its content hash. */
  public readonly release?: AppRelease;
  /** The host preparation, when `prepareHost` is set. */
  public readonly hostSetup?: HostSetup;
  /** The virtualenv build, when `pythonEnv` is set. */
  public readonly pythonEnv?: PythonEnv;

  constructor(name: string, args: GunicornServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:GunicornService", name, {}, opts);
    if ((args.host === undefined) === (args.vm === undefined)) {
      throw new pulumi.ResourceError(
        `${name}: exactly one of 'host' (an existing host) and 'vm' (provision one) is required`,
        this,
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
      return validated(name, this, () => {
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
    // Plain settings (the usual case: stack config) are checked before any child exists, so a
    // bad value never leaves a half-configured host, not even with `up --skip-preview`.
    if (isPlain(settings)) validate(settings as ServiceSettings);
    const spec = pulumi.output(settings).apply((s) => validate(s as ServiceSettings));
    const appEnv = pulumi.all([spec, args.appEnv ?? {}]).apply(([s, env]) => {
      return validated(name, this, () => {
        const checked = checkEnv("appEnv", env, false);
        appEnvironment(s, checked); // a name a setting sets too is refused here, early
        return checked;
      });
    });

    let connection: pulumi.Output<command.types.input.remote.ConnectionArgs>;
    if (args.vm !== undefined) {
      // What clients reach: nginx's ports with nginx, else Gunicorn's when not on loopback.
      const appPorts = spec.apply((s) => {
        if (s.nginx) return s.tls === "off" ? [s.httpPort] : [s.httpPort, s.httpsPort];
        const bind = parseBind("bind", s.bind);
        return bind.kind === "tcp" && !isLoopback(bind.host) ? [bind.port] : [];
      });
      const init = spec.apply((s) => s.init);
      this.vm = newVm(`${name}-vm`, { init, ...args.vm, appPorts }, { parent: this });
      connection = this.vm.connection;
      this.publicAddress = this.vm.publicIp;
    } else {
      connection = pulumi.secret(
        pulumi.output(args.host as pulumi.Input<command.types.input.remote.ConnectionArgs>),
      );
      // The address is not a secret even when the connection (with its key) is.
      this.publicAddress = pulumi.unsecret(pulumi.output(args.host).apply((h) => h?.host ?? ""));
    }

    // A bare host first gets its user, group, directories and packages, then the virtualenv;
    // the files need the group (the config is root:<group>), the service needs everything.
    const before: pulumi.Resource[] = [];
    if (args.prepareHost !== undefined && args.prepareHost !== false) {
      const prep = args.prepareHost === true ? {} : args.prepareHost;
      this.hostSetup = new HostSetup(
        `${name}-host`,
        { connection, spec: spec.apply((s) => hostSetupSpec(s, prep)) },
        { parent: this },
      );
      before.push(this.hostSetup);
    }
    if (args.pythonEnv !== undefined) {
      const env = args.pythonEnv;
      this.pythonEnv = new PythonEnv(
        `${name}-python`,
        {
          connection,
          spec: spec.apply((s) => pythonEnvSpec(s, env)),
          ...(env.requirements !== undefined ? { requirements: env.requirements } : {}),
        },
        { parent: this, dependsOn: [...before] },
      );
    }

    // With sudo "helper", every command is an operation of the job's helper, whose shape (a
    // hash of what is fixed in it) the commands carry, so a stale helper fails with what to do.
    const sudoHelper = spec.apply((s) => (s.sudo === "helper" ? renderSudoHelper(s) : undefined));
    const helper: pulumi.Output<HelperRef | undefined> = sudoHelper.apply((h) =>
      h ? { path: h.path, shape: h.shape } : undefined,
    );
    this.sudoHelper = sudoHelper.apply((h) =>
      h ? { path: h.path, content: h.content } : undefined,
    );

    // One resource per host file the service has; only the Gunicorn config sees appEnv, so the
    // others stay readable when appEnv holds secrets.
    const hostFiles: Partial<Record<HostFileRole, RemoteFile>> = {};
    for (const host of HOST_FILES) {
      if (host.presentWith !== undefined && args[host.presentWith] === false) continue;
      const target = spec.apply((s) => host.target(s));
      const content = host.appEnv
        ? pulumi.all([spec, appEnv]).apply(([s, env]) => host.render(s, env))
        : spec.apply((s) => host.render(s, {}));
      hostFiles[host.role] = new RemoteFile(
        `${name}-${host.role}`,
        {
          connection,
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
        { parent: this, dependsOn: before },
      );
    }
    const jobFile = hostFiles.job as RemoteFile;
    const launcherFile = hostFiles.launcher as RemoteFile;
    const configFile = hostFiles.config as RemoteFile;
    const logrotateFile = hostFiles.logrotate;

    // The app's code, when deployed by this component: uploaded before the service switches.
    if (args.appSource !== undefined) {
      this.release = new AppRelease(
        `${name}-release`,
        {
          connection,
          source: args.appSource,
          appRoot: spec.apply((s) => s.appRoot as string),
          helper,
        },
        { parent: this, dependsOn: before },
      );
    }
    const releaseId: pulumi.Output<string | undefined> =
      this.release?.releaseId ?? pulumi.output(undefined);

    const files = pulumi
      .all([jobFile.content, launcherFile.content, configFile.content, releaseId])
      .apply(([job, launcher, gunicornConfig, release]) => ({
        job,
        launcher,
        gunicornConfig,
        ...(release !== undefined ? { release } : {}),
      }));
    this.changeHash = files.apply((f) => sha256(renderManifest(f)));
    const service = new ServiceLifecycle(
      `${name}-service`,
      {
        connection,
        spec,
        files,
        after: args.lifecycleAfter ?? [],
        fileResources: [
          jobFile,
          launcherFile,
          configFile,
          ...(this.release ? [this.release] : []),
          ...(this.pythonEnv ? [this.pythonEnv] : []),
        ],
        writes: [
          jobFile.written,
          launcherFile.written,
          configFile.written,
          ...(this.release ? [this.release.written] : []),
          ...(this.pythonEnv ? [this.pythonEnv.written] : []),
        ],
        helper,
      },
      { parent: this },
    );

    this.lifecycle = service;
    this.jobName = spec.job;
    this.jobFile = pulumi.output({ path: jobFile.path, content: jobFile.content });
    this.launcherFile = pulumi.output({ path: launcherFile.path, content: launcherFile.content });
    this.gunicornConfigFile = pulumi.output({ path: configFile.path, content: configFile.content });
    this.status = service.status;
    if (logrotateFile !== undefined) {
      this.logrotateFile = pulumi.output({
        path: logrotateFile.path,
        content: logrotateFile.content,
      });
    }
    // nginx in front: its site is put in service once Gunicorn serves, and goes before it stops.
    if (args.nginx === true) {
      this.nginxSite = new NginxSite(
        `${name}-nginx`,
        {
          connection,
          spec,
          address: this.publicAddress,
          ...(args.tlsCertificate !== undefined ? { tlsCertificate: args.tlsCertificate } : {}),
          ...(args.tlsKey !== undefined ? { tlsKey: args.tlsKey } : {}),
          after: [service],
        },
        { parent: this },
      );
    }
    this.url =
      this.nginxSite?.url ??
      pulumi.all([spec, this.publicAddress]).apply(([s, address]) => serviceUrl(s.bind, address));
    this.tlsCertificate = this.nginxSite?.tlsCertificate ?? pulumi.output(undefined);
    this.registerOutputs({
      publicAddress: this.publicAddress,
      url: this.url,
      jobName: this.jobName,
      jobFile: this.jobFile,
      launcherFile: this.launcherFile,
      gunicornConfigFile: this.gunicornConfigFile,
      status: this.status,
      logrotateFile: this.logrotateFile,
      tlsCertificate: this.tlsCertificate,
      sudoHelper: this.sudoHelper,
    });
  }
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host.startsWith("127.") || host === "[::1]";
}

/** The URL a client uses: the host's address for wildcard binds, the bound host otherwise. */
export function serviceUrl(bindValue: string, address: string): string {
  const bind = parseBind("bind", bindValue);
  if (bind.kind === "unix") return `unix:${bind.path}`;
  const host = bind.host === "0.0.0.0" || bind.host === "[::]" ? address : bind.host;
  return `http://${host}:${bind.port}/`;
}

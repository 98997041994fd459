import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import type { AppRelease } from "./appRelease";
import type { BackgroundProcess } from "./backgroundProcess";
import type { ScheduledJob } from "./scheduledJob";
import {
  buildPythonEnv,
  checkService,
  prepareHost,
  provideMachine,
  putNginxInFront,
  runProcesses,
  runSchedules,
  startService,
  sudoHelper,
  uploadRelease,
  writeHostFiles,
  type ServiceStep,
} from "./gunicornServiceSteps";
import type { HostSetup } from "./hostSetup";
import type { NginxSite } from "./nginxSite";
import type { PythonEnv } from "./pythonEnv";
import type { RemoteFile } from "./remoteFile";
import type { ServiceLifecycle } from "./serviceLifecycle";
import type { ServiceSettingArgs } from "./settingArgs";
import { parseBind } from "./render/spec";
import type { VmArgs, VmOutputs } from "./vmArgs";

export { hostSetupSpec, pythonEnvSpec } from "./gunicornServiceSteps";

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
  /** The processes beside the web (`processes`), by name order; empty without. */
  public readonly processes: BackgroundProcess[];
  /** What the last `up` did to each process, e.g. `{ worker: "site-worker: restart (pid 4242)" }`. */
  public readonly processStatus: pulumi.Output<Record<string, string>>;
  /** The scheduled jobs (`schedules`), by name order; empty without. */
  public readonly schedules: ScheduledJob[];
  /** What each scheduled job's last `up` said, e.g. `{ clearsessions: "site-clearsessions: in cron" }`. */
  public readonly scheduleStatus: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: GunicornServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:GunicornService", name, {}, opts);
    const { spec, appEnv } = checkService(name, this, args);

    // The steps of one `up`, in the README's order; each names its children `${name}-<role>`.
    const machine = provideMachine(name, this, args, spec);
    this.vm = machine.vm;
    this.publicAddress = machine.publicAddress;
    const step: ServiceStep = { name, parent: this, spec, connection: machine.connection };
    this.hostSetup = prepareHost(step, args.prepareHost);
    // A bare host is prepared before anything else lands on it (the files need its group).
    const prepared: pulumi.Resource[] = this.hostSetup !== undefined ? [this.hostSetup] : [];
    this.pythonEnv = buildPythonEnv(step, args.pythonEnv, prepared);
    // With sudo "helper", the files, the release and the lifecycle act through the job's helper.
    const helper = sudoHelper(spec);
    const files = writeHostFiles(step, args, appEnv, helper.ref, prepared);
    this.release = uploadRelease(step, args.appSource, helper.ref, prepared);
    const service = startService(step, {
      files,
      release: this.release,
      pythonEnv: this.pythonEnv,
      after: args.lifecycleAfter ?? [],
      helper: helper.ref,
    });
    this.nginxSite = putNginxInFront(step, args, this.publicAddress, service.lifecycle);
    this.processes = runProcesses(
      step,
      args,
      appEnv,
      { release: this.release, pythonEnv: this.pythonEnv, config: files.config },
      prepared,
      helper.ref,
      service,
    );
    this.schedules = runSchedules(step, args, prepared, helper.ref, service);

    this.lifecycle = service.lifecycle;
    this.changeHash = service.changeHash;
    this.status = service.lifecycle.status;
    this.sudoHelper = helper.file;
    this.jobName = spec.job;
    this.jobFile = writtenFile(files.job);
    this.launcherFile = writtenFile(files.launcher);
    this.gunicornConfigFile = writtenFile(files.config);
    this.logrotateFile = files.logrotate !== undefined ? writtenFile(files.logrotate) : undefined;
    this.url =
      this.nginxSite?.url ??
      pulumi.all([spec, this.publicAddress]).apply(([s, address]) => serviceUrl(s.bind, address));
    this.tlsCertificate = this.nginxSite?.tlsCertificate ?? pulumi.output(undefined);
    this.processStatus = pulumi
      .all(this.processes.map((p) => p.status))
      .apply((statuses) =>
        Object.fromEntries(statuses.map((st, i) => [this.processes[i]!.processName, st])),
      );
    this.scheduleStatus = pulumi
      .all(this.schedules.map((j) => j.status))
      .apply((statuses) =>
        Object.fromEntries(statuses.map((st, i) => [this.schedules[i]!.scheduleName, st])),
      );
    this.registerOutputs({
      processStatus: this.processStatus,
      scheduleStatus: this.scheduleStatus,
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

/** A host file as the service's outputs show it: where and what. */
function writtenFile(file: RemoteFile): pulumi.Output<WrittenFile> {
  return pulumi.output({ path: file.path, content: file.content });
}

/** The URL a client uses: the host's address for wildcard binds, the bound host otherwise. */
export function serviceUrl(bindValue: string, address: string): string {
  const bind = parseBind("bind", bindValue);
  if (bind.kind === "unix") return `unix:${bind.path}`;
  const host = bind.host === "0.0.0.0" || bind.host === "[::]" ? address : bind.host;
  return `http://${host}:${bind.port}/`;
}

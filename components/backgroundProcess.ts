import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import {
  processApplyLabel,
  processStopLabel,
  renderProcessApplyScript,
  renderProcessFiles,
  renderProcessManifest,
  renderProcessStopScript,
  type ProcessFileRole,
} from "./render/processFiles";
import { sha256 } from "./render/lifecycleScripts";
import type { HelperRef } from "./render/sudoHelper";
import type { ServiceSpec } from "./render/spec";
import { renderedRemoteFile, type RemoteFile } from "./remoteFile";
import { hostAddress, lifecycleCommands, remoteCommand } from "./resourceHelpers";

/** Arguments of {@link BackgroundProcess}. */
export interface BackgroundProcessArgs {
  /** SSH connection to the host. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** The service's checked spec; the process is `spec.processes[process]`. */
  spec: pulumi.Input<ServiceSpec>;
  /** The process's name, a key of `spec.processes`. */
  process: string;
  /** The app environment as the app gets it (appEnv and the settings' variables); may be secret. */
  appEnv: pulumi.Input<Record<string, string>>;
  /** The release the web serves, with releases: a new one restarts the process. */
  release?: pulumi.Input<string | undefined>;
  /** A token of the virtualenv's last build, with one: a rebuild restarts the process. */
  virtualenv?: pulumi.Input<string | undefined>;
  /** What the files are written after (the host preparation). @default [] */
  prepared?: pulumi.Input<pulumi.Resource>[];
  /** What the process (re)starts after: the web's lifecycle, healthy. @default [] */
  after?: pulumi.Input<pulumi.Resource>[];
  /** Act through the job's privileged helper (`sudo: "helper"`). @default unset */
  helper?: pulumi.Input<HelperRef | undefined>;
  /**
   * Tokens of the steps that wrote what the process runs besides its own files (the release,
   * the virtualenv, the Gunicorn config with the environment): when any ran, the lifecycle
   * runs too, as the web's does. @default []
   */
  writes?: pulumi.Input<string>[];
}

/**
 * A process beside the web (a Celery worker, its beat) as its own Upstart job or systemd unit
 * `<job>-<name>`: its job file and launcher (`${name}-job`, `${name}-launcher`), and its
 * lifecycle (`${name}-lifecycle`), which starts it after the web is healthy, restarts it when
 * what it runs changed (the files, the app environment, the release, the virtualenv), checks
 * it keeps running, and stops it on delete before its files go.
 */
export class BackgroundProcess extends pulumi.ComponentResource {
  /** What the last create or update did: `<job>-<name>: restart (pid 1234)`. */
  public readonly status: pulumi.Output<string>;
  /** The process's name (a key of `processes`). */
  public readonly processName: string;
  /** The job file (or unit) and the launcher, as written. */
  public readonly jobFile: RemoteFile;
  public readonly launcherFile: RemoteFile;

  constructor(name: string, args: BackgroundProcessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:BackgroundProcess", name, {}, opts);
    const spec = pulumi.output(args.spec);
    const proc = args.process;
    this.processName = proc;
    const processOf = (s: ServiceSpec) => {
      const p = s.processes[proc];
      if (p === undefined) throw new Error(`${name}: no process ${proc} in the spec`);
      return p;
    };
    const rendered = spec.apply((s) => renderProcessFiles(s, proc, processOf(s)));
    const helper = pulumi.output(args.helper);
    const file = (role: ProcessFileRole) =>
      renderedRemoteFile(
        name,
        role,
        rendered,
        { connection: args.connection, helper: args.helper, prefix: `process-${proc}` },
        { parent: this, dependsOn: args.prepared ?? [] },
      );
    this.jobFile = file("job");
    this.launcherFile = file("launcher");

    const { apply, stop, program } = lifecycleCommands(
      helper,
      { apply: `apply-process-${proc}`, stop: `stop-process-${proc}` },
      spec.apply((s) => ({
        apply: {
          label: processApplyLabel(s, proc),
          script: renderProcessApplyScript(s, proc, processOf(s)),
        },
        stop: { label: processStopLabel(s, proc), script: renderProcessStopScript(s, proc) },
      })),
    );
    const manifest = pulumi
      .all([
        this.jobFile.content,
        this.launcherFile.content,
        args.appEnv,
        args.release,
        args.virtualenv,
      ])
      .apply(([job, launcher, env, release, virtualenv]) =>
        renderProcessManifest({
          job,
          launcher,
          env,
          ...(release !== undefined ? { release } : {}),
          ...(virtualenv !== undefined ? { virtualenv } : {}),
        }),
      );
    // After a failed start (the process stopped, nothing recorded), going back to the inputs it
    // last succeeded with (its command, the release, the environment) would be no update at
    // all: the tokens of the writes change then, so the lifecycle runs and starts it.
    const update = pulumi
      .all([apply, this.jobFile.written, this.launcherFile.written, pulumi.all(args.writes ?? [])])
      .apply(
        ([command, job, launcher, writes]) =>
          `${command} # after ${sha256([job, launcher, ...writes].join(" ")).slice(0, 16)}`,
      );
    const lifecycle = remoteCommand(
      `${name}-lifecycle`,
      {
        connection: args.connection,
        create: apply,
        update,
        delete: stop,
        program,
        stdin: manifest,
        triggers: [spec.apply((s) => `${s.job}-${proc}`), hostAddress(args.connection)],
      },
      {
        parent: this,
        dependsOn: [this.jobFile, this.launcherFile, ...(args.after ?? [])],
        deleteBeforeReplace: true,
      },
    );
    this.status = pulumi.unsecret(
      lifecycle.stdout.apply((out) => out.trim().split("\n").pop() ?? ""),
    );
    this.registerOutputs({ status: this.status });
  }
}

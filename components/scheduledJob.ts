import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { sha256 } from "./render/lifecycleScripts";
import {
  renderScheduleApplyScript,
  renderScheduleFiles,
  renderScheduleStopScript,
  scheduleApplyLabel,
  scheduleStopLabel,
  type ScheduleFileRole,
} from "./render/scheduleFiles";
import type { HelperRef } from "./render/sudoHelper";
import type { Init, ServiceSpec } from "./render/spec";
import { renderedRemoteFile, type RemoteFile } from "./remoteFile";
import { hostAddress, lifecycleCommands, remoteCommand } from "./resourceHelpers";

/** Arguments of {@link ScheduledJob}. */
export interface ScheduledJobArgs {
  /** SSH connection to the host. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** The service's checked spec; the job is `spec.schedules[schedule]`. */
  spec: pulumi.Input<ServiceSpec>;
  /** The scheduled job's name, a key of `spec.schedules`. */
  schedule: string;
  /** The service's init, plain: it decides which files the job has (a timer or a cron entry). */
  init: Init;
  /** What the files are written after (the host preparation). @default [] */
  prepared?: pulumi.Input<pulumi.Resource>[];
  /** What the schedule is turned on after: the web's lifecycle (the release is in place). @default [] */
  after?: pulumi.Input<pulumi.Resource>[];
  /** Act through the job's privileged helper (`sudo: "helper"`). @default unset */
  helper?: pulumi.Input<HelperRef | undefined>;
}

/**
 * A scheduled job: its runner and, by init, its systemd service and timer or its cron entry
 * (`${name}-runner`, `${name}-service`, `${name}-timer`, `${name}-cron`), and its lifecycle
 * (`${name}-lifecycle`), which turns the timer on (or checks that cron runs) and, on delete,
 * turns it off before the files go.
 */
export class ScheduledJob extends pulumi.ComponentResource {
  /** What the last create or update said, e.g. `site-clearsessions: timer on, next run …`. */
  public readonly status: pulumi.Output<string>;
  /** The scheduled job's name (a key of `schedules`). */
  public readonly scheduleName: string;

  constructor(name: string, args: ScheduledJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:ScheduledJob", name, {}, opts);
    const spec = pulumi.output(args.spec);
    const job = args.schedule;
    this.scheduleName = job;
    const scheduleOf = (s: ServiceSpec) => {
      const found = s.schedules[job];
      if (found === undefined) throw new Error(`${name}: no schedule ${job} in the spec`);
      return found;
    };
    const rendered = spec.apply((s) => renderScheduleFiles(s, job, scheduleOf(s)));
    const helper = pulumi.output(args.helper);
    const files: RemoteFile[] = [];
    const roles: ScheduleFileRole[] =
      args.init === "systemd" ? ["runner", "service", "timer"] : ["runner", "cron"];
    for (const role of roles) {
      files.push(
        renderedRemoteFile(
          name,
          role,
          rendered,
          { connection: args.connection, helper: args.helper, prefix: `schedule-${job}` },
          { parent: this, dependsOn: args.prepared ?? [] },
        ),
      );
    }
    const { apply, stop, program } = lifecycleCommands(
      helper,
      { apply: `apply-schedule-${job}`, stop: `stop-schedule-${job}` },
      spec.apply((s) => ({
        apply: { label: scheduleApplyLabel(s, job), script: renderScheduleApplyScript(s, job) },
        stop: { label: scheduleStopLabel(s, job), script: renderScheduleStopScript(s, job) },
      })),
    );
    // What the timer is: a new calendar restarts it.
    const manifest = pulumi
      .all(files.map((f) => f.content))
      .apply((contents) => `files ${sha256(contents.join("\0"))}\n`);
    const lifecycle = remoteCommand(
      `${name}-lifecycle`,
      {
        connection: args.connection,
        create: apply,
        update: apply,
        delete: stop,
        program,
        stdin: manifest,
        triggers: [spec.apply((s) => `${s.job}-${job}`), hostAddress(args.connection)],
      },
      { parent: this, dependsOn: [...files, ...(args.after ?? [])], deleteBeforeReplace: true },
    );
    this.status = pulumi.unsecret(
      lifecycle.stdout.apply((out) => out.trim().split("\n").pop() ?? ""),
    );
    this.registerOutputs({ status: this.status });
  }
}

/**
 * The files and scripts of scheduled jobs (components/render/schedules.ts): per job, its runner
 * and, under systemd, a oneshot service and its timer `<job>-<name>`; under Upstart, a cron
 * entry `/etc/cron.d/<job>-<name>`. Pure.
 */
import { KILL_TIMEOUT_MARGIN, type ServiceSpec } from "./spec";
import { onCalendar, type ScheduleSpec } from "./schedules";
import { dirnameOf, initNoun, withTitle } from "./launcher";
import { hostText, renderHostProgram } from "./hostProgram";
import type { FileTarget } from "./remoteScripts";
import { appUserServiceLines, literal } from "./processFiles";

/** The unit (or cron entry) name of a scheduled job: `<job>-<name>`. */
export function scheduleJob(spec: Pick<ServiceSpec, "job">, name: string): string {
  return `${spec.job}-${name}`;
}

/** Its runner, beside the launchers: `run-<job>-<name>.sh`. */
export function scheduleRunnerPath(
  spec: Pick<ServiceSpec, "job" | "launcherPath">,
  name: string,
): string {
  return `${dirnameOf(spec.launcherPath)}/run-${scheduleJob(spec, name)}.sh`;
}

/** Its cron entry: cron skips files in /etc/cron.d whose name has a '.'. */
export function cronPath(spec: Pick<ServiceSpec, "job">, name: string): string {
  return `/etc/cron.d/${scheduleJob(spec, name).replace(/\./g, "_")}`;
}

/** Where its output goes under Upstart (cron): beside Gunicorn's log. */
export function scheduleLogPath(spec: ServiceSpec, name: string): string {
  return `${dirnameOf(spec.logFile)}/${scheduleJob(spec, name)}.log`;
}

export type ScheduleFileRole = "runner" | "service" | "timer" | "cron";

/** One file of a scheduled job. */
export interface ScheduleFile extends FileTarget {
  role: ScheduleFileRole;
  content: string;
  systemdReload: boolean;
  /** With `sudo: helper`: root acts on what it says (`fixed`), or it runs as the app user only. */
  helper: "fixed" | "deploy";
}

const root = (path: string, mode: string) => ({ path, owner: "root", group: "root", mode });

/** The files of scheduled job `name`, by the service's init. */
export function renderScheduleFiles(
  spec: ServiceSpec,
  name: string,
  s: ScheduleSpec,
): ScheduleFile[] {
  const job = scheduleJob(spec, name);
  const runner: ScheduleFile = {
    role: "runner",
    ...root(scheduleRunnerPath(spec, name), "0755"),
    content: renderScheduleRunner(spec, name, s),
    systemdReload: false,
    helper: "deploy",
  };
  if (spec.init === "systemd") {
    return [
      runner,
      {
        role: "service",
        ...root(`/etc/systemd/system/${job}.service`, "0644"),
        content: renderScheduleService(spec, name),
        systemdReload: true,
        helper: "fixed",
      },
      {
        role: "timer",
        ...root(`/etc/systemd/system/${job}.timer`, "0644"),
        content: renderScheduleTimer(spec, name, s),
        systemdReload: true,
        helper: "fixed",
      },
    ];
  }
  return [
    runner,
    {
      role: "cron",
      ...root(cronPath(spec, name), "0644"),
      content: renderCronEntry(spec, name, s),
      systemdReload: false,
      helper: "fixed",
    },
  ];
}

/** The runner: components/host/schedule-runner.sh with process-loader.py. */
export function renderScheduleRunner(spec: ServiceSpec, name: string, s: ScheduleSpec): string {
  const program = renderHostProgram("schedule-runner.sh", {
    NAME: scheduleJob(spec, name),
    VIRTUALENV: spec.virtualenv,
    PROJECTDIR: spec.projectDir,
    CONFIG: spec.gunicornConfigPath,
    COMMAND: s.command,
    // Under systemd the journal has it (the `<job>-logs` view); cron has no log of its own.
    LOG: spec.init === "systemd" ? "" : scheduleLogPath(spec, name),
    LOADER: hostText("process-loader.py"),
  });
  return withTitle(
    program,
    `Runner of ${scheduleJob(spec, name)}, the scheduled job ${name} of the ${initNoun(spec)} ${spec.job}.`,
  );
}

/**
 * The cron entry: the schedule, the app user, the runner (its path has plain path characters
 * only, like the launcher's). No mail: the output is in the runner's log.
 */
export function renderCronEntry(spec: ServiceSpec, name: string, s: ScheduleSpec): string {
  return [
    `# cron entry ${cronPath(spec, name)}: the scheduled job ${name} of ${spec.job} (its command: in its runner).`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
    "SHELL=/bin/sh",
    "PATH=/usr/local/bin:/usr/bin:/bin",
    'MAILTO=""',
    `${s.schedule} ${spec.user} ${scheduleRunnerPath(spec, name)}`,
    "",
  ].join("\n");
}

/** The oneshot service the timer starts: the app user, the web unit's sandbox, the journal. */
export function renderScheduleService(spec: ServiceSpec, name: string): string {
  const lines = [
    `# systemd unit /etc/systemd/system/${scheduleJob(spec, name)}.service: the scheduled job ${name} of ${spec.job} (its command: in its runner).`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
    "[Unit]",
    `Description=${literal(spec.description)}: scheduled ${name}`,
    `After=network.target ${spec.job}.service`,
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=${literal(scheduleRunnerPath(spec, name))}`,
    "KillMode=mixed",
    `TimeoutStopSec=${30 + KILL_TIMEOUT_MARGIN}`,
    ...appUserServiceLines(spec),
    "",
  ];
  return lines.join("\n");
}

/**
 * The timer: the schedule as OnCalendar; AccuracySec=1s (systemd's default, a minute, would
 * let a job start up to a minute late); a timer never starts its service while a run is still
 * going, and the runner's lock covers a run started by hand.
 */
export function renderScheduleTimer(spec: ServiceSpec, name: string, s: ScheduleSpec): string {
  const job = scheduleJob(spec, name);
  return [
    `# systemd timer /etc/systemd/system/${job}.timer: the schedule of ${name} of ${spec.job} (cron: ${s.schedule}).`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
    "[Unit]",
    `Description=${literal(spec.description)}: schedule of ${name}`,
    "",
    "[Timer]",
    `OnCalendar=${onCalendar(s.schedule)}`,
    "AccuracySec=1s",
    `Unit=${job}.service`,
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

export function scheduleApplyLabel(spec: ServiceSpec, name: string): string {
  return `the schedule of ${scheduleJob(spec, name)}`;
}

export function scheduleStopLabel(spec: ServiceSpec, name: string): string {
  return `stopping the schedule of ${scheduleJob(spec, name)}`;
}

/** Turns the schedule on (systemd), or checks cron runs (Upstart). */
export function renderScheduleApplyScript(spec: ServiceSpec, name: string): string {
  return renderHostProgram("schedule-apply.sh", { JOB: scheduleJob(spec, name), INIT: spec.init });
}

/** Turns it off before its files go. */
export function renderScheduleStopScript(spec: ServiceSpec, name: string): string {
  return renderHostProgram("schedule-stop.sh", { JOB: scheduleJob(spec, name), INIT: spec.init });
}

import type { ServiceSpec } from "./spec";
import { renderHostProgram } from "./hostProgram";
import { initNoun, withTitle } from "./launcher";
import { scheduleLogPath } from "./scheduleFiles";
import { processLogPath } from "./processFiles";

/** Where the service's logs command goes: `<job>-logs` on root's PATH. */
export function logsCommandPath(spec: Pick<ServiceSpec, "job">): string {
  return `/usr/local/bin/${spec.job}-logs`;
}

/**
 * Renders `/usr/local/bin/<job>-logs`: the logs of the web and of every process and scheduled
 * job, by name, with -f, -n and --since (components/host/logs-command.sh).
 */
export function renderLogsCommand(spec: ServiceSpec): string {
  const schedules = Object.keys(spec.schedules);
  const processes = Object.keys(spec.processes);
  const program = renderHostProgram("logs-command.sh", {
    JOB: spec.job,
    WEB_LOGS: [spec.logFile, ...(spec.accessLog !== undefined ? [spec.accessLog] : [])],
    PROCESSES: processes,
    PROCESS_LOGS: processes.map((name) =>
      spec.init === "systemd" ? "" : processLogPath(spec, name),
    ),
    SCHEDULES: schedules,
    SCHEDULE_LOGS: schedules.map((name) =>
      spec.init === "systemd" ? "" : scheduleLogPath(spec, name),
    ),
  });
  return withTitle(
    program,
    `${spec.job}-logs: the logs of the ${initNoun(spec)} ${spec.job} and what runs beside it.`,
  );
}

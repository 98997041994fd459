/**
 * Processes beside the web: named long-running commands (a Celery worker, its beat) run from
 * the same release, virtualenv, user and app environment as Gunicorn, each its own Upstart job
 * or systemd unit `<job>-<name>`. This file holds their setting's shape and check; the files
 * and scripts are rendered by components/render/processFiles.ts. Pure: no Pulumi here.
 */
import { SpecError, checkBool, checkCommandLine, checkInt, show } from "./checks";

/** A process as the component and the stack config take it (besides a bare command line). */
export interface ProcessOptions {
  /** The command line, run by bash as the app user in the project directory (the release). */
  command: string;
  /**
   * Seconds a stop waits after TERM before it kills what is left: a Celery worker finishes
   * the tasks it is running (a warm shutdown), so give it the longest task's time. @default 60
   */
  stopTimeout?: number;
  /**
   * Run it on the fleet's first host only (a scheduler such as Celery beat, which must not
   * run twice); a single service always runs it. @default false
   */
  once?: boolean;
  /**
   * Seconds the process must keep running, unrespawned, after a start before the `up` goes
   * on; one that dies fails the `up` with its log's tail. @default 3
   */
  settleSeconds?: number;
}

/** A process, checked and with its defaults. */
export interface ProcessSpec {
  command: string;
  stopTimeout: number;
  once: boolean;
  settleSeconds: number;
}

export const PROCESS_DEFAULTS = { stopTimeout: 60, once: false, settleSeconds: 3 } as const;

/** A process name: it becomes part of a job name, a file name and resource names. */
const PROCESS_NAME_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const MAX_PROCESSES = 20;

/** Checks `processes`: names to command lines or {@link ProcessOptions}; sorted by name. */
export function checkProcesses(field: string, value: unknown): Record<string, ProcessSpec> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SpecError(
      field,
      `expected a map from a process name to a command line or { command, stopTimeout, once, settleSeconds }, got ${show(Array.isArray(value) ? "a list" : value)}`,
    );
  }
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  if (entries.length > MAX_PROCESSES) {
    throw new SpecError(field, `at most ${MAX_PROCESSES} processes, got ${entries.length}`);
  }
  const out: Record<string, ProcessSpec> = {};
  for (const [name, raw] of entries) {
    const at = `${field}.${name}`;
    if (!PROCESS_NAME_RE.test(name) || name.length > 32) {
      throw new SpecError(
        field,
        `process name ${show(name)} must be 1 to 32 lowercase letters, digits and inner dashes, starting with a letter (it names a job: <job>-<name>)`,
      );
    }
    const options: Record<string, unknown> =
      typeof raw === "string" ? { command: raw } : (raw as Record<string, unknown>);
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      throw new SpecError(at, `expected a command line or { command, ... }, got ${show(raw)}`);
    }
    for (const key of Object.keys(options)) {
      if (!["command", "stopTimeout", "once", "settleSeconds"].includes(key)) {
        throw new SpecError(
          `${at}.${key}`,
          "is not a process option (command, stopTimeout, once, settleSeconds)",
        );
      }
    }
    out[name] = {
      command: checkCommandLine(`${at}.command`, options.command),
      stopTimeout:
        options.stopTimeout === undefined
          ? PROCESS_DEFAULTS.stopTimeout
          : checkInt(`${at}.stopTimeout`, options.stopTimeout, 1, 86_400),
      once: options.once === undefined ? false : checkBool(`${at}.once`, options.once),
      settleSeconds:
        options.settleSeconds === undefined
          ? PROCESS_DEFAULTS.settleSeconds
          : checkInt(`${at}.settleSeconds`, options.settleSeconds, 1, 300),
    };
  }
  return out;
}

/** The processes a host runs: all of them on a fleet's first host (or alone), else the others. */
export function processesOnHost(
  processes: Readonly<Record<string, ProcessSpec>>,
  firstHost: boolean,
): Record<string, ProcessSpec> {
  return Object.fromEntries(Object.entries(processes).filter(([, p]) => firstHost || !p.once));
}

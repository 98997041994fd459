/**
 * Scheduled jobs: named commands run as the app user in the current release with the app
 * environment, on a schedule (`hourly`, `daily`, `weekly`, `monthly` or a cron expression),
 * by a systemd timer on systemd hosts and a cron entry on Upstart hosts. This file holds the
 * setting's shape and check, and turns a schedule into cron's and systemd's forms. Pure.
 */
import { SpecError, checkBool, checkCommandLine, show } from "./checks";

/** A scheduled job as the component and the stack config take it. */
export interface ScheduleOptions {
  /** The command line, run by bash as the app user in the project directory (the release). */
  command: string;
  /**
   * When: `hourly`, `daily`, `weekly` (Monday), `monthly` (the 1st), all at minute 0 (and
   * hour 0), or five cron fields, `MINUTE HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK`, each `*`,
   * `*\/N`, a number, a range `A-B` or a list of those, e.g. `*\/15 * * * *` or `30 3 * * 1-5`.
   */
  schedule: string;
  /** Run it on the fleet's first host only; false runs it on every host. @default true */
  once?: boolean;
}

/** A scheduled job, checked. */
export interface ScheduleSpec {
  command: string;
  /** The five cron fields (the named schedules expanded); {@link onCalendar} gives systemd's. */
  schedule: string;
  once: boolean;
}

const NAMED: Record<string, string> = {
  hourly: "0 * * * *",
  daily: "0 0 * * *",
  weekly: "0 0 * * 1",
  monthly: "0 0 1 * *",
};

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 7 },
] as const;

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

const SCHEDULE_NAME_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Checks `schedules`: names to `{ command, schedule, once }`; sorted by name. */
export function checkSchedules(field: string, value: unknown): Record<string, ScheduleSpec> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SpecError(
      field,
      `expected a map from a name to { command, schedule, once }, got ${show(Array.isArray(value) ? "a list" : value)}`,
    );
  }
  const out: Record<string, ScheduleSpec> = {};
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  if (entries.length > 20)
    throw new SpecError(field, `at most 20 schedules, got ${entries.length}`);
  for (const [name, raw] of entries) {
    const at = `${field}.${name}`;
    if (!SCHEDULE_NAME_RE.test(name) || name.length > 32) {
      throw new SpecError(
        field,
        `schedule name ${show(name)} must be 1 to 32 lowercase letters, digits and inner dashes, starting with a letter (it names a unit: <job>-<name>)`,
      );
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new SpecError(at, `expected { command, schedule, once }, got ${show(raw)}`);
    }
    const options = raw as Record<string, unknown>;
    for (const key of Object.keys(options)) {
      if (!["command", "schedule", "once"].includes(key)) {
        throw new SpecError(`${at}.${key}`, "is not a schedule option (command, schedule, once)");
      }
    }
    out[name] = {
      command: checkCommandLine(`${at}.command`, options.command),
      schedule: checkCron(`${at}.schedule`, options.schedule),
      once: options.once === undefined ? true : checkBool(`${at}.once`, options.once),
    };
  }
  return out;
}

/** A schedule in cron's five fields, checked; the named ones expanded. */
export function checkCron(field: string, value: unknown): string {
  const allowed = `hourly, daily, weekly, monthly or five cron fields (MINUTE HOUR DAY MONTH WEEKDAY: each *, */N, a number, A-B, or a list), got ${show(value)}`;
  if (typeof value !== "string") throw new SpecError(field, `expected ${allowed}`);
  const text = NAMED[value.trim()] ?? value.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5) throw new SpecError(field, `expected ${allowed}`);
  parts.forEach((part, i) => {
    const f = FIELDS[i]!;
    for (const item of part.split(",")) {
      const step = /^\*\/(\d+)$/.exec(item);
      if (item === "*" && !part.includes(",")) continue;
      if (step !== null && i !== 4) {
        const n = Number(step[1]);
        if (n >= 1 && n <= f.max && !part.includes(",")) continue;
      }
      const range = /^(\d+)(?:-(\d+))?$/.exec(item);
      const lo = Number(range?.[1]);
      const hi = range?.[2] !== undefined ? Number(range[2]) : lo;
      if (range !== null && lo >= f.min && hi <= f.max && lo <= hi) continue;
      throw new SpecError(
        field,
        `${show(value)}: the ${f.name} field ${show(part)} is not *, */N or numbers, ranges and lists from ${f.min} to ${f.max}`,
      );
    }
  });
  // cron runs a job when either day field matches, systemd when both do: only one may be set.
  if (parts[2] !== "*" && parts[4] !== "*") {
    throw new SpecError(
      field,
      `${show(value)}: set the day of the month or the day of the week, not both (cron and systemd read both differently)`,
    );
  }
  return parts.join(" ");
}

/** Five checked cron fields as systemd's `OnCalendar=` (same times). */
export function onCalendar(cron: string): string {
  const [minute, hour, dom, month, dow] = cron.split(" ") as [
    string,
    string,
    string,
    string,
    string,
  ];
  const field = (part: string, first: number) =>
    part === "*"
      ? "*"
      : part
          .split(",")
          .map((item) =>
            item.startsWith("*/")
              ? `${first}/${item.slice(2)}`
              : item.replace("-", "..").replace(/\d+/g, (n) => n.padStart(2, "0")),
          )
          .join(",");
  // Weekdays as names, each range spelt out (cron's 0 and 7 are both Sunday; systemd's week
  // starts on Monday, so a range across Sunday would not mean the same).
  const weekdays = new Set<number>();
  if (dow !== "*") {
    for (const item of dow.split(",")) {
      const [a, b] = item.split("-").map(Number) as [number, number | undefined];
      for (let d = a; d <= (b ?? a); d++) weekdays.add(d % 7);
    }
  }
  const days =
    weekdays.size === 0
      ? ""
      : `${[1, 2, 3, 4, 5, 6, 0]
          .filter((d) => weekdays.has(d))
          .map((d) => DAYS[d])
          .join(",")} `;
  return `${days}*-${field(month, 1)}-${field(dom, 1)} ${field(hour, 0)}:${field(minute, 0)}:00`;
}

/** The scheduled jobs a host runs: all on a fleet's first host (or alone), else the others. */
export function schedulesOnHost(
  schedules: Readonly<Record<string, ScheduleSpec>>,
  firstHost: boolean,
): Record<string, ScheduleSpec> {
  return Object.fromEntries(Object.entries(schedules).filter(([, s]) => firstHost || !s.once));
}

import { runsMasterAsRoot, type ServiceSpec } from "./spec";
import { initNoun } from "./launcher";
import { scheduleLogPath } from "./scheduleFiles";

/** Where the logrotate rule for a job goes. */
export function logrotatePath(spec: ServiceSpec): string {
  return `/etc/logrotate.d/gunicorn-${spec.job}`;
}

/**
 * A logrotate rule for the Gunicorn logs (and the scheduled jobs' logs beside them). After rotating, USR1 makes the Gunicorn master reopen
 * its log files (and tell its workers to), so nothing is lost and nothing restarts; this is
 * better than `copytruncate`, which drops what is written between the copy and the truncate.
 * New files get the app user's ownership, as Gunicorn gives them. The PID comes from the init.
 * `su`: logrotate renames, creates and compresses as the app user, whose directory the logs
 * live in, so a link the app user plants there never makes root act on another file.
 * Paths must not contain blanks or quotes here: logrotate's own syntax.
 */
export function renderLogrotate(spec: ServiceSpec): string {
  // Under Upstart the scheduled jobs' runners log beside Gunicorn (each run reopens its file).
  const schedules =
    spec.init === "upstart" ? Object.keys(spec.schedules).map((n) => scheduleLogPath(spec, n)) : [];
  const logs = [
    spec.logFile,
    ...(spec.accessLog !== undefined ? [spec.accessLog] : []),
    ...schedules,
  ];
  return [
    `# logrotate rule for the Gunicorn logs of the ${initNoun(spec)} ${spec.job}.`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
    `${logs.join(" ")} {`,
    // Rotated as the user that owns the directory: the app user's, or root's under a root
    // master (whose log directories are root's alone).
    `    su ${runsMasterAsRoot(spec) ? "root" : spec.user} ${spec.group}`,
    "    weekly",
    "    rotate 12",
    "    missingok",
    "    notifempty",
    "    compress",
    "    delaycompress",
    `    create 0640 ${spec.user} ${spec.group}`,
    "    sharedscripts",
    "    postrotate",
    // The master only, which tells its workers (a signal to the whole unit would reach all).
    spec.init === "systemd"
      ? `        pid=$(systemctl show -p MainPID ${spec.job}.service 2>/dev/null | cut -d = -f 2)`
      : `        pid=$(initctl status ${spec.job} 2>/dev/null | sed -n 's/.* start\\/[a-z-]*, process \\([0-9]*\\).*/\\1/p')`,
    '        [ -z "$pid" ] || [ "$pid" = 0 ] || kill -USR1 "$pid"',
    "    endscript",
    "}",
    "",
  ].join("\n");
}

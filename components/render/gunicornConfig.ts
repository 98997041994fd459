import type { ServiceSpec } from "../spec";
import { pyQuote } from "../shell";
import { initNoun } from "./launcher";

/**
 * Renders the Gunicorn config file (Python). Gunicorn reads it at start and again on every HUP
 * (`initctl reload <job>`), so every setting here changes without a restart: new workers start
 * with the new values and the old ones finish their requests within `graceful_timeout`.
 *
 * `appEnv` may hold secrets: the component writes this file mode 0640, root and the app group.
 */
export function renderGunicornConfig(spec: ServiceSpec, appEnv: Record<string, string>): string {
  const lines = [
    ...(spec.workers === "auto" ? ["import multiprocessing", ""] : []),
    `# Gunicorn settings for the ${initNoun(spec)} ${spec.job}.`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
    `# Re-read on HUP (\`${spec.init === "systemd" ? "systemctl" : "initctl"} reload\`), so these change without a restart.`,
    `bind = [${pyQuote(spec.bind)}]`,
    // "auto" is the Gunicorn docs' rule, computed where it runs: 2 x CPUs + 1.
    spec.workers === "auto"
      ? "workers = multiprocessing.cpu_count() * 2 + 1"
      : `workers = ${spec.workers}`,
    `loglevel = ${pyQuote(spec.logLevel)}`,
    `timeout = ${spec.timeout}`,
    `graceful_timeout = ${spec.gracefulTimeout}`,
    `max_requests = ${spec.maxRequests}`,
    `max_requests_jitter = ${spec.maxRequestsJitter}`,
    `proc_name = ${pyQuote(spec.job)}`,
    // Gunicorn owns its error log, so USR1 (logrotate) reopens it; capture_output puts its
    // stdout and stderr (tracebacks, prints) into it and re-points them on every reopen. The
    // launcher's `2>>` only catches what fails before Gunicorn is up.
    `errorlog = ${pyQuote(spec.logFile)}`,
    "capture_output = True",
    ...(spec.accessLog !== undefined ? [`accesslog = ${pyQuote(spec.accessLog)}`] : []),
    // Re-applied on every HUP: with releases, `current` then resolves to the new release.
    `chdir = ${pyQuote(spec.projectDir)}`,
  ];
  const keys = Object.keys(appEnv).sort();
  if (keys.length === 0) {
    lines.push("raw_env = []");
  } else {
    lines.push("raw_env = [");
    for (const key of keys) lines.push(`    ${pyQuote(`${key}=${appEnv[key] as string}`)},`);
    lines.push("]");
  }
  return lines.join("\n") + "\n";
}

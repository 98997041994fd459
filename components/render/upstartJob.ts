import { jobFilePath, type ServiceSpec } from "./spec";

/**
 * Renders `/etc/init/<job>.conf`. The recipe's six stanzas come first, in its order; the
 * optional stanzas follow only when set, so the recipe's values render the recipe's file.
 * Every value here was validated by `normalizeSpec` so that it cannot add a stanza.
 */
export function renderUpstartJob(spec: ServiceSpec): string {
  const lines: string[] = [
    `# Upstart job ${jobFilePath(spec.job)}: Gunicorn serving ${spec.wsgiApp}.`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
    `description "${spec.description}"`,
    "",
    `start on runlevel ${spec.startOnRunlevels}`,
    `stop on runlevel ${spec.stopOnRunlevels}`,
    "",
  ];
  if (spec.respawn) {
    lines.push(
      "respawn",
      `respawn limit ${spec.respawnLimitCount} ${spec.respawnLimitInterval}`,
      "",
    );
  }
  const extra: string[] = [];
  if (spec.umask !== undefined) extra.push(`umask ${spec.umask}`);
  if (spec.chdir !== undefined) extra.push(`chdir ${spec.chdir}`);
  if (spec.nofile !== undefined) extra.push(`limit nofile ${spec.nofile.soft} ${spec.nofile.hard}`);
  if (spec.killTimeout !== undefined) extra.push(`kill timeout ${spec.killTimeout}`);
  if (spec.console !== undefined) extra.push(`console ${spec.console}`);
  if (spec.normalExit.length > 0) extra.push(`normal exit ${spec.normalExit.join(" ")}`);
  if (spec.setuid !== undefined) extra.push(`setuid ${spec.setuid}`);
  if (spec.setgid !== undefined) extra.push(`setgid ${spec.setgid}`);
  if (spec.reloadSignal !== undefined) extra.push(`reload signal SIG${spec.reloadSignal}`);
  for (const key of Object.keys(spec.jobEnv).sort()) {
    extra.push(`env ${key}="${spec.jobEnv[key] as string}"`);
  }
  if (extra.length > 0) lines.push(...extra, "");
  // The launcher path was limited to plain path characters, so Upstart execs it directly
  // and the launcher (then Gunicorn, which it execs) is the job's main process.
  lines.push(`exec ${spec.launcherPath}`);
  return lines.join("\n") + "\n";
}

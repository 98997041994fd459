import { jobFilePath, systemdTarget, type ServiceSpec } from "./spec";
import { renderSandbox } from "./systemdSandbox";

/** systemd expands `%` specifiers in most settings; a literal `%` is written `%%`. */
function literal(text: string): string {
  return text.replace(/%/g, "%%");
}

/**
 * The runtime directory systemd makes for the unit at each start (`RuntimeDirectory=`): owned
 * by the service user, writable under the sandbox, removed at stop. Gunicorn's control socket
 * goes there (components/render/gunicornConfig.ts). Under a directory of our own: systemd
 * chowns an existing runtime directory to the unit's user and removes it at stop, so a job named
 * like another daemon must not get that daemon's `/run/<name>`.
 */
export function runtimeDirectory(spec: ServiceSpec): string {
  return `/run/gunicorn-upstart/${spec.job}`;
}

/**
 * Renders `/etc/systemd/system/<job>.service`: the same service as the Upstart job, stanza for
 * stanza — `respawn` is `Restart=always`, `respawn limit COUNT INTERVAL` is
 * `StartLimitBurst=COUNT+1` (the first start and COUNT respawns) / `StartLimitIntervalSec`, `start on runlevel [2345]` is `WantedBy=multi-user.target` (systemd
 * stops every service at shutdown, which covers `stop on runlevel`), the `exec` is `ExecStart`
 * of the same launcher, and a reload sends the same signal to the main PID (Gunicorn's master,
 * since the launcher `exec`s it). `KillMode=mixed`, as Gunicorn's own systemd example: the stop
 * signal goes to the master only, which stops its workers gracefully; whatever is left when
 * `TimeoutStopSec` runs out is killed. `RuntimeDirectory=`, which the Upstart job has no stanza
 * for, holds Gunicorn's control socket. Values were validated by `normalizeSpec`; `%` is escaped.
 */
export function renderSystemdUnit(spec: ServiceSpec): string {
  const unit = [
    `# systemd unit ${jobFilePath(spec.job, "systemd")}: Gunicorn serving ${spec.wsgiApp}.`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
    "[Unit]",
    `Description=${literal(spec.description)}`,
    "After=network.target",
  ];
  if (spec.respawn) {
    // Upstart's COUNT is respawns after the start; systemd's burst counts every start.
    unit.push(
      `StartLimitIntervalSec=${spec.respawnLimitInterval}`,
      `StartLimitBurst=${spec.respawnLimitCount + 1}`,
    );
  }
  const service = [
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${literal(spec.launcherPath)}`,
    `ExecReload=/bin/kill -${spec.reloadSignal ?? "HUP"} $MAINPID`,
    `Restart=${spec.respawn ? "always" : "no"}`,
    "KillMode=mixed",
  ];
  if (spec.normalExit.length > 0) {
    service.push(`RestartPreventExitStatus=${spec.normalExit.join(" ")}`);
  }
  if (spec.killTimeout !== undefined) service.push(`TimeoutStopSec=${spec.killTimeout}`);
  if (spec.setuid !== undefined) service.push(`User=${spec.setuid}`);
  if (spec.setgid !== undefined) service.push(`Group=${spec.setgid}`);
  if (spec.umask !== undefined) service.push(`UMask=${spec.umask.padStart(4, "0")}`);
  if (spec.chdir !== undefined) service.push(`WorkingDirectory=${literal(spec.chdir)}`);
  service.push(`RuntimeDirectory=${runtimeDirectory(spec).slice("/run/".length)}`);
  if (spec.nofile !== undefined) {
    service.push(`LimitNOFILE=${spec.nofile.soft}:${spec.nofile.hard}`);
  }
  if (spec.console === "none") service.push("StandardOutput=null", "StandardError=null");
  for (const key of Object.keys(spec.jobEnv).sort()) {
    // Job env values have no quotes, backslashes or '$' (validated), so double quotes suffice.
    service.push(`Environment="${key}=${literal(spec.jobEnv[key] as string)}"`);
  }
  service.push(
    "",
    "# Sandbox: what a Gunicorn app needs and nothing more (relaxSandbox lifts a part).",
  );
  service.push(...renderSandbox(spec).map(literal));
  const install = ["", "[Install]", `WantedBy=${systemdTarget(spec.startOnRunlevels) as string}`];
  return [...unit, ...service, ...install, ""].join("\n");
}

import { appEnvironment, type ServiceSpec } from "./spec";
import { SETTINGS, SETTING_NAMES, type Setting } from "./settings";
import { pyQuote } from "./shell";
import { initNoun } from "./launcher";
import { renderHooksLoader } from "./warmReload";
import { runtimeDirectory } from "./systemdUnit";

/**
 * Where Gunicorn 25.1+ puts its control socket, the one `gunicornc` talks to. Its default,
 * `$XDG_RUNTIME_DIR/gunicorn.ctl` or `$HOME/.gunicorn/gunicorn.ctl`, fails under the systemd
 * sandbox (the home is read-only or hidden: an ERROR line at the start and at every worker
 * spawned after it), and is shared by every service of one user (the last one started takes the
 * socket; when it stops, the path is gone). So the socket goes in the service's own runtime
 * directory, which the init gives as `$RUNTIME_DIRECTORY`: systemd's `RuntimeDirectory=`. Upstart
 * makes none (its `setuid` runs every job process as the app user, pre-start included, so no
 * part of the job could make one in /run), and no Upstart release has the Python 3.10 that
 * Gunicorn 25.1 needs: there, and in a run by hand (which must not take the service's socket),
 * it is off. Gunicorn before 25.1 ignores both names, as it ignores any name that is not one of
 * its settings. Python 2.7 and 3 syntax, like the hooks (whose loader imports `os as _os`).
 */
function renderControlSocket(spec: ServiceSpec): string[] {
  const where =
    spec.init === "systemd"
      ? [
          `# in the unit's runtime directory, ${runtimeDirectory(spec)} ($RUNTIME_DIRECTORY: made`,
          "# for the service's user at start, removed at stop), not in $HOME, which the sandbox",
          "# makes read-only. A run by hand has no $RUNTIME_DIRECTORY and opens none.",
        ]
      : [
          "# off: Upstart gives the job no runtime directory ($RUNTIME_DIRECTORY), and in $HOME it",
          "# fails when the home is read-only and is shared by every job of the user.",
        ];
  return [
    "# Gunicorn 25.1+ opens a control socket for gunicornc (older ones ignore these names):",
    ...where,
    'if _os.environ.get("RUNTIME_DIRECTORY"):',
    '    control_socket = _os.environ["RUNTIME_DIRECTORY"] + "/gunicorn.ctl"',
    "else:",
    "    control_socket_disable = True",
  ];
}

/**
 * Renders the Gunicorn config file (Python). Gunicorn reads it at start and again on every HUP
 * (`initctl reload <job>`), so every setting here changes without a restart: new workers start
 * with the new values and the old ones finish their requests within `graceful_timeout`.
 *
 * One line per setting the table gives a Gunicorn key (components/render/settings.ts), in its order;
 * an unset optional setting writes no line (Gunicorn's default). `appEnv` may hold secrets: the
 * component writes this file mode 0640, root and the app group.
 */
export function renderGunicornConfig(spec: ServiceSpec, appEnv: Record<string, string>): string {
  const imports = new Set<string>();
  const settings: string[] = [];
  for (const name of SETTING_NAMES) {
    const row = SETTINGS[name] as Setting<unknown>;
    const value = (spec as Record<string, unknown>)[name];
    if (row.gunicorn === undefined || value === undefined) continue;
    for (const module of row.gunicorn.imports?.(value) ?? []) imports.add(module);
    settings.push(`${row.gunicorn.key} = ${row.gunicorn.value?.(value) ?? String(value)}`);
  }
  const lines = [
    ...[...imports].sort().map((m) => `import ${m}`),
    ...(imports.size > 0 ? [""] : []),
    `# Gunicorn settings for the ${initNoun(spec)} ${spec.job}.`,
    "# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.",
    `# Re-read on HUP (\`${spec.init === "systemd" ? "systemctl" : "initctl"} reload\`), so these change without a restart.`,
    "",
    ...renderHooksLoader(spec),
    "",
    ...settings,
    // Gunicorn owns its error log, so USR1 (logrotate) reopens it; capture_output puts its
    // stdout and stderr (tracebacks, prints) into it and re-points them on every reopen. The
    // launcher's `2>>` only catches what fails before Gunicorn is up.
    "capture_output = True",
    "",
    ...renderControlSocket(spec),
    "",
  ];
  const env = appEnvironment(spec, appEnv);
  const keys = Object.keys(env).sort();
  if (keys.length === 0) {
    lines.push("raw_env = []");
  } else {
    lines.push("raw_env = [");
    for (const key of keys) lines.push(`    ${pyQuote(`${key}=${env[key] as string}`)},`);
    lines.push("]");
  }
  return lines.join("\n") + "\n";
}

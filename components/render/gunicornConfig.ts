import { appEnvironment, type ServiceSpec } from "../spec";
import { SETTINGS, SETTING_NAMES, type Setting } from "../settings";
import { pyQuote } from "../shell";
import { initNoun } from "./launcher";
import { renderBootFailureHooks } from "./bootFailure";
import { renderWarmReloadHooks } from "./warmReload";

/**
 * Renders the Gunicorn config file (Python). Gunicorn reads it at start and again on every HUP
 * (`initctl reload <job>`), so every setting here changes without a restart: new workers start
 * with the new values and the old ones finish their requests within `graceful_timeout`.
 *
 * One line per setting the table gives a Gunicorn key (components/settings.ts), in its order;
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
    ...renderWarmReloadHooks(spec),
    "",
    "",
    ...renderBootFailureHooks(),
    "",
    "",
    ...settings,
    // Gunicorn owns its error log, so USR1 (logrotate) reopens it; capture_output puts its
    // stdout and stderr (tracebacks, prints) into it and re-points them on every reopen. The
    // launcher's `2>>` only catches what fails before Gunicorn is up.
    "capture_output = True",
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

import { GATE_STABLE_SECONDS, hooksPath, type ServiceSpec } from "./spec";
import { connectTarget } from "./checks";
import { hostText, renderHostPython } from "./hostProgram";
import { sha256 } from "./lifecycleScripts";

/**
 * How long the master waits for the new workers of a warm reload: what the lifecycle's health
 * gate (`startTimeout`, counted from the HUP) leaves after it has seen them serve for
 * GATE_STABLE_SECONDS, less a second for the retire.
 */
export function warmTimeoutSeconds(spec: ServiceSpec): number {
  return Math.max(1, spec.startTimeout - GATE_STABLE_SECONDS - 1);
}

/** Host and port of the in-process health request: what the lifecycle's gate sends. */
function healthTarget(spec: ServiceSpec): { host: string; port: string } | undefined {
  const target = connectTarget(spec.bind);
  // The gate only sees that a unix socket exists; the check asks no more of it, unless the
  // user named the Host for the app.
  if (target.kind === "unix") {
    return spec.healthCheckHost === undefined
      ? undefined
      : { host: spec.healthCheckHost, port: "80" };
  }
  return { host: spec.healthCheckHost ?? target.host, port: String(target.port) };
}

/**
 * The lines of the Gunicorn config that load the server hooks from their module
 * (components/host/gunicorn_upstart_hooks.py, written beside the config as
 * {@link hooksPath}) and give them the service's health request; the `reloadStrategy` row
 * picks which `on_reload` the config sets. The module's hash is in the config, so a new module
 * changes the config, which the lifecycle then reloads. By the config's own path (`__file__`,
 * which Gunicorn sets): the pre-flight import and the release tasks run the config too.
 */
export function renderHooksLoader(spec: ServiceSpec): string[] {
  const target = healthTarget(spec);
  const [path, query] = spec.healthCheckPath.split(/\?(.*)/s) as [string, string | undefined];
  const file = hooksPath(spec);
  return renderHostPython("gunicorn-config-hooks.py", {
    _HOOKS_MODULE: file.slice(file.lastIndexOf("/") + 1),
    _HOOKS_SHA256: sha256(hostText(HOOKS_MODULE)),
    _WARM_TIMEOUT: warmTimeoutSeconds(spec),
    _WARM_PATH: target === undefined ? null : path,
    _WARM_QUERY: query ?? "",
    _WARM_HOST: target?.host ?? "",
    _WARM_PORT: target?.port ?? "",
    _WARM_HEALTHY_BELOW: spec.healthyStatusBelow,
  });
}

/** The server hooks' module in components/host. */
export const HOOKS_MODULE = "gunicorn_upstart_hooks.py";

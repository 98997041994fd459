import type { ServiceSpec } from "./spec";
import { renderHostProgram, type HostValue } from "./hostProgram";
import { ACME_WEBROOT, nginxFilePath, nginxSitePath } from "./nginxSite";

/**
 * The scripts of the nginx site (run as root over SSH): install it, check it and the service
 * through nginx, remove it on destroy. They are `components/host/nginx-apply.sh` and
 * `nginx-remove.sh`; this fills their parameters.
 */

/** The site's apply, in words, for the line that says it failed. */
export function nginxApplyLabel(spec: ServiceSpec): string {
  return `the nginx site of ${spec.job}`;
}

/** The site's removal, in words. */
export function nginxRemoveLabel(spec: ServiceSpec): string {
  return `removing the nginx site of ${spec.job}`;
}

/** The Host header (and TLS server name) the check through nginx uses. */
export function siteHost(spec: ServiceSpec): string {
  if (spec.healthCheckHost !== undefined) return spec.healthCheckHost;
  if (spec.serverName === "_") return "127.0.0.1";
  return (spec.serverName.split(" ")[0] as string).replace(/^\*\./, "www.");
}

/** The parameters both scripts take: the service's file and its TLS files. */
function siteParams(spec: ServiceSpec): Record<string, HostValue> {
  return {
    JOB: spec.job,
    SITE: nginxFilePath(spec),
    MOUNT_ON: spec.nginxMountOn ?? "",
    TLS: spec.tls,
    CERT: spec.tlsCertificateFile,
    KEY: spec.tlsKeyFile,
  };
}

/**
 * Installs or updates the site from standard input, checks it with `nginx -t` and through
 * nginx, and puts the previous one back when either fails: `components/host/nginx-apply.sh`.
 */
export function renderNginxApplyScript(spec: ServiceSpec): string {
  const cn = siteHost(spec);
  const names =
    spec.serverName === "_"
      ? ["DNS:localhost", "IP:127.0.0.1"]
      : spec.serverName.split(" ").map((n) => `DNS:${n}`);
  return renderHostProgram("nginx-apply.sh", {
    ...siteParams(spec),
    HOST_SITE:
      spec.nginxMountOn !== undefined ? nginxSitePath({ ...spec, job: spec.nginxMountOn }) : "",
    HOST_HEADER: cn,
    SNI: spec.serverName === "_" ? "" : cn,
    SUBJECT_ALT_NAMES: names.join(","),
    HTTP_PORT: spec.httpPort,
    HTTPS_PORT: spec.httpsPort,
    HEALTH_PATH: `${spec.urlPrefix ?? ""}${spec.healthCheckPath}`,
    HEALTHY_BELOW: spec.healthyStatusBelow,
    START_TIMEOUT: spec.startTimeout,
    ACME: ACME_WEBROOT,
  });
}

/**
 * Removes the site (and a self-signed certificate made for it) and reloads nginx:
 * `components/host/nginx-remove.sh`.
 */
export function renderNginxRemoveScript(spec: ServiceSpec): string {
  return renderHostProgram("nginx-remove.sh", siteParams(spec));
}

import { jobFilePath, type ServiceSpec } from "../spec";
import { renderGunicornConfig } from "./gunicornConfig";
import { renderLauncher } from "./launcher";
import { renderSystemdUnit } from "./systemdUnit";
import { renderUpstartJob } from "./upstartJob";

/** One file the service puts on the host, with its ownership. */
export interface RenderedFile {
  path: string;
  content: string;
  owner: string;
  group: string;
  mode: string;
}

/** The three files of a service, keyed by role; `job` is the Upstart job or the systemd unit. */
export interface RenderedService {
  job: RenderedFile;
  launcher: RenderedFile;
  gunicornConfig: RenderedFile;
}

/**
 * Renders every file of a service with its owner and mode. Job and launcher are root's and
 * not writable by the app user, because Upstart runs the launcher as root. The Gunicorn config
 * can hold app secrets: readable by root and the app's group only.
 */
export function renderServiceFiles(
  spec: ServiceSpec,
  appEnv: Record<string, string>,
): RenderedService {
  return {
    job: {
      path: jobFilePath(spec.job, spec.init),
      content: spec.init === "systemd" ? renderSystemdUnit(spec) : renderUpstartJob(spec),
      owner: "root",
      group: "root",
      mode: "0644",
    },
    launcher: {
      path: spec.launcherPath,
      content: renderLauncher(spec),
      owner: "root",
      group: "root",
      mode: "0755",
    },
    gunicornConfig: {
      path: spec.gunicornConfigPath,
      content: renderGunicornConfig(spec, appEnv),
      owner: "root",
      group: spec.group,
      mode: "0640",
    },
  };
}

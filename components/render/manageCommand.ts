import type { ServiceSpec } from "./spec";
import { hostText, renderHostProgram } from "./hostProgram";
import { initNoun, withTitle } from "./launcher";

/** Where the service's manage command goes: `<job>-manage` on root's PATH. */
export function manageCommandPath(spec: ServiceSpec): string {
  return `/usr/local/bin/${spec.job}-manage`;
}

/**
 * Renders `/usr/local/bin/<job>-manage`: Django's `manage.py` for this service, run as the app
 * user with the app's virtualenv and environment, never on root's terminal:
 * `components/host/manage-command.sh`, with the Python of `manage-loader.py`.
 */
export function renderManageCommand(spec: ServiceSpec): string {
  const program = renderHostProgram("manage-command.sh", {
    APP_USER: spec.user,
    CONFIG: spec.gunicornConfigPath,
    PROJECTDIR: spec.projectDir,
    PYTHON: `${spec.virtualenv}/bin/python`,
    LOADER: hostText("manage-loader.py"),
  });
  const service = `${initNoun(spec)} ${spec.job}`;
  return withTitle(
    program,
    `${spec.job}-manage: Django's manage.py for the ${service}, as ${spec.user}.`,
  );
}

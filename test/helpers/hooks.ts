import { writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { ServiceSpec } from "../../components/render/spec";
import { hostText } from "../../components/render/hostProgram";
import { HOOKS_MODULE } from "../../components/render/warmReload";
import { hooksPath } from "../../components/render/spec";

/**
 * Writes the server hooks' module beside a rendered Gunicorn config at `configPath`, where the
 * config looks for it (as the component writes it beside the config on a host).
 */
export function writeHooksBeside(configPath: string, spec: ServiceSpec): void {
  writeFileSync(join(dirname(configPath), basename(hooksPath(spec))), hostText(HOOKS_MODULE));
}

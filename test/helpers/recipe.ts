import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { ServiceSettings } from "../../components/render/spec";

/** The recipe's values, copied from shared/seed/recipe-values.json into a fixture. */
export const recipe = JSON.parse(
  readFileSync(resolve(__dirname, "../fixtures/recipe-values.json"), "utf8"),
) as {
  upstartJob: {
    path: string;
    description: string;
    startOn: string;
    stopOn: string;
    respawn: boolean;
    respawnLimit: { count: number; intervalSeconds: number };
    exec: string;
  };
  launcher: {
    path: string;
    logFile: string;
    logLevel: string;
    workers: number;
    bind: string;
    user: string;
    group: string;
    projectDir: string;
    virtualenv: string;
  };
};

/** The recipe's values as service settings. */
export function recipeSettings(): ServiceSettings {
  const job = recipe.upstartJob.path.replace(/^\/etc\/init\//, "").replace(/\.conf$/, "");
  return {
    job,
    description: recipe.upstartJob.description,
    startOnRunlevels: recipe.upstartJob.startOn.replace(/^runlevel /, ""),
    stopOnRunlevels: recipe.upstartJob.stopOn.replace(/^runlevel /, "") as "[06]",
    respawn: recipe.upstartJob.respawn,
    respawnLimitCount: recipe.upstartJob.respawnLimit.count,
    respawnLimitInterval: recipe.upstartJob.respawnLimit.intervalSeconds,
    launcherPath: recipe.launcher.path,
    logFile: recipe.launcher.logFile,
    logLevel: recipe.launcher.logLevel as "debug",
    workers: recipe.launcher.workers,
    bind: recipe.launcher.bind,
    user: recipe.launcher.user,
    group: recipe.launcher.group,
    projectDir: recipe.launcher.projectDir,
    virtualenv: recipe.launcher.virtualenv,
  };
}

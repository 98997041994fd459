// Golden files for every renderer, for the defaults, the recipe's values and a spec with
// every optional stanza. Update with `npm run golden:update` and review the diff.
import { test } from "node:test";
import { resolve } from "node:path";
import { normalizeSpec, type ServiceSettings } from "../../components/render/spec";
import { renderServiceFiles } from "../../components/render/hostFiles";
import { assertGolden } from "../helpers/golden";
import { recipeSettings } from "../helpers/recipe";

const GOLDEN = resolve(__dirname, "golden");

const cases: Record<string, { settings: ServiceSettings; appEnv: Record<string, string> }> = {
  defaults: { settings: {}, appEnv: {} },
  recipe: { settings: recipeSettings(), appEnv: {} },
  "all-options": {
    settings: {
      job: "shop",
      description: "Shop (Django 4, behind nginx)",
      stopOnRunlevels: "[!2345]",
      respawnLimitCount: 3,
      respawnLimitInterval: 60,
      projectDir: "/srv/shop/current",
      virtualenv: "/srv/shop/venv",
      logFile: "/var/log/shop/gunicorn.log",
      user: "shop",
      group: "www-data",
      wsgiApp: "shop.wsgi:application",
      extraArgs: ["--forwarded-allow-ips", "10.0.0.5", "--worker-class", "gthread"],
      launcherPath: "/usr/local/sbin/shop-gunicorn",
      gunicornConfigPath: "/etc/gunicorn/shop.py",
      workers: 9,
      bind: "0.0.0.0:8080",
      logLevel: "warning",
      timeout: 60,
      gracefulTimeout: 20,
      maxRequests: 1000,
      maxRequestsJitter: 50,
      jobEnv: { LANG: "C.UTF-8", PYTHONUNBUFFERED: "1" },
      chdir: "/srv/shop/current",
      umask: "027",
      nofile: { soft: 4096, hard: 8192 },
      killTimeout: 25,
      console: "log",
      normalExit: ["0", "TERM"],
      setuid: "shop",
      setgid: "www-data",
      reloadSignal: "SIGHUP",
    },
    appEnv: {
      DJANGO_SETTINGS_MODULE: "shop.settings.production",
      GREETING: 'say "hi"\nand \\ leave',
    },
  },
  "django-manage-unix-socket": {
    settings: {
      invocation: "django-manage",
      bind: "unix:/run/django-project/gunicorn.sock",
      respawn: false,
    },
    appEnv: {},
  },
};

for (const [name, c] of Object.entries(cases)) {
  test(`the ${name} spec renders its golden job, launcher and Gunicorn config`, () => {
    const files = renderServiceFiles(normalizeSpec(c.settings), c.appEnv);
    assertGolden(`${GOLDEN}/${name}/job.conf`, files.job.content);
    assertGolden(`${GOLDEN}/${name}/launcher.sh`, files.launcher.content);
    assertGolden(`${GOLDEN}/${name}/gunicorn.conf.py`, files.gunicornConfig.content);
  });
}

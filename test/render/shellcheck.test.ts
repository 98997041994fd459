// Every generated shell script passes `bash -n` and `shellcheck`: the launcher, the file
// write/delete scripts, the lifecycle scripts, the programs that run them (the step runner),
// and the command strings that load those.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { normalizeSpec, type ServiceSettings } from "../../components/render/spec";
import { renderManageCommand } from "../../components/render/manageCommand";
import { renderLauncher } from "../../components/render/launcher";
import { renderApplyScript, renderStopScript } from "../../components/render/lifecycleScripts";
import {
  asHelperCommand,
  FIRST_ARG,
  localLoaderCommand,
  loaderCommand,
  renderDeleteFileScript,
  renderPlainProgram,
  renderStepProgram,
  renderWriteFileScript,
} from "../../components/render/remoteScripts";
import { recipeSettings } from "../helpers/recipe";
import { renderUploadScript } from "../../components/render/releaseScripts";
import { fixedContentCheck, renderSudoHelper } from "../../components/render/sudoHelper";
import { renderHostSetupScript, renderPythonEnvScript } from "../../components/render/hostScripts";
import { hostSetupSpec, pythonEnvSpec } from "../../components/gunicornService";

const specs: Record<string, ServiceSettings> = {
  defaults: {},
  recipe: recipeSettings(),
  awkward: {
    job: "a.job_1-x",
    projectDir: "/srv/my app/it's $(here)",
    virtualenv: '/opt/venv `x` "q"',
    logFile: "/var/log/a b/'c'.log",
    launcherPath: "/usr/local/bin/run-it.sh",
    extraArgs: ["--name", "$(rm -rf /)", "'", "-"],
    bind: "unix:/run/app/sock",
    invocation: "django-manage",
    logrotate: false,
  },
  ipv6: { bind: "[::]:8000" },
  releases: {
    releases: true,
    healthCheckPath: "/health?full=1&x='y'",
    releaseCommands: ["python manage.py compilemessages", "echo 'it''s' \"$HOME\""],
    staticRoot: "/var/www/x y/static",
  },
  systemd: { init: "systemd", releases: true, setuid: "user" },
};

// SC2016 (no expansion in single quotes) and SC1003 (nested quote escapes) are what a program
// embedding scripts wants: each is passed to `bash -c` as one literal word. The script itself
// is checked on its own, without exclusions.
function check(label: string, script: string, shell: "bash" | "sh", exclude: string[] = []): void {
  const syntax = spawnSync(shell, ["-n"], { input: script, encoding: "utf8" });
  assert.equal(syntax.status, 0, `${label}: ${shell} -n: ${syntax.stderr}`);
  const sc = spawnSync("shellcheck", ["-s", shell, ...exclude.flatMap((e) => ["-e", e]), "-"], {
    input: script,
    encoding: "utf8",
  });
  assert.ok(!sc.error, `shellcheck is required (apt-get install shellcheck): ${sc.error?.message}`);
  assert.equal(sc.status, 0, `${label}: shellcheck:\n${sc.stdout}`);
}

for (const [name, settings] of Object.entries(specs)) {
  test(`every script rendered for the ${name} spec passes bash -n and shellcheck`, () => {
    const spec = normalizeSpec(settings);
    const scripts: Record<string, string> = {
      launcher: renderLauncher(spec),
      "manage command": renderManageCommand(spec),
      apply: renderApplyScript(spec),
      stop: renderStopScript(spec),
      write: renderWriteFileScript(
        { path: spec.logFile, owner: "root", group: spec.group, mode: "0640" },
        123,
      ),
      delete: renderDeleteFileScript(spec.launcherPath),
      "host setup": renderHostSetupScript(
        hostSetupSpec(spec, { packages: ["python3", "python3-venv"] }),
      ),
      "python env": renderPythonEnvScript(
        pythonEnvSpec(spec, {
          systemSitePackages: true,
          wheelhouse: "/srv/wheels dir",
          indexUrl: "https://pypi.example/simple",
        }),
      ),
      upload: renderUploadScript(spec.appRoot ?? "/srv/x y", "0123456789abcdef", "ab".repeat(32)),
      "delete with bytecode cache": renderDeleteFileScript(spec.gunicornConfigPath, {
        pythonCache: true,
      }),
      "helper's job write": renderWriteFileScript(
        { path: "/etc/init/x.conf", owner: "root", group: "root", mode: "0644" },
        FIRST_ARG,
        { check: fixedContentCheck('description "x"\n') },
      ),
      "helper's upload": renderUploadScript(spec.appRoot ?? "/srv/x y", FIRST_ARG, "$2"),
    };
    // Hostile values are single-quoted on purpose; SC2016 would flag exactly that quoting.
    const literal = name === "awkward" ? ["SC2016"] : [];
    for (const [label, script] of Object.entries(scripts)) {
      check(label, script, "bash", literal);
      if (label !== "launcher" && label !== "manage command")
        check(
          `${label} as a loaded program`,
          renderStepProgram({ run: { label: `it's ${label}`, script } }),
          "bash",
          ["SC2016", "SC1003"],
        );
    }
    // The helper embeds the scripts the same way the remote command does.
    const helper = renderSudoHelper(normalizeSpec({ ...settings, sudo: "helper", setuid: "app" }));
    check("sudo helper", helper.content, "bash", ["SC2016", "SC1003"]);
    check(
      "a helper call",
      asHelperCommand(helper.path, helper.shape, "upload-release", [
        "0123456789abcdef",
        "ab".repeat(32),
      ]),
      "sh",
    );
  });
}

test("the loader commands and a plain program pass sh -n, bash -n and shellcheck", () => {
  // The loader runs its program's words as a literal bash -c script: SC2016 is the intent.
  check("the loader command", loaderCommand("apply"), "sh", ["SC2016"]);
  check("the local loader command", localLoaderCommand("up"), "bash", ["SC2016"]);
  check("a plain program", renderPlainProgram({ up: "echo up\n" }), "bash", ["SC2016"]);
});

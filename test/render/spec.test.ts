// Validation: every bad value is refused with a SpecError that names the field and says what
// is allowed; good values pass through unchanged; defaults are the recipe's.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  appEnvironment,
  DEFAULTS,
  normalizeSpec,
  parseBind,
  SpecError,
  type ServiceSettings,
} from "../../components/render/spec";

function rejects(settings: ServiceSettings, field: string, allowed: RegExp): void {
  assert.throws(
    () => normalizeSpec(settings),
    (e: unknown) => {
      assert.ok(e instanceof SpecError, String(e));
      assert.equal(e.field, field);
      assert.match(e.message, new RegExp(`^invalid '${field.replace(/[[\].]/g, "\\$&")}': `));
      assert.match(e.message, allowed);
      return true;
    },
  );
}

describe("normalizeSpec", () => {
  test("defaults are the recipe's values (log level info, modern wsgi invocation)", () => {
    const s = normalizeSpec({});
    assert.equal(s.job, "django-project");
    assert.equal(s.workers, 3);
    assert.equal(s.bind, "127.0.0.1:8000");
    assert.equal(s.respawnLimitCount, 10);
    assert.equal(s.respawnLimitInterval, 5);
    assert.equal(s.stopOnRunlevels, "[06]");
    // Deliberate deviations from the recipe, for least privilege: the launcher lives where only
    // root can change it, the master runs as the app user, a stop waits out graceful_timeout.
    assert.equal(s.launcherPath, "/usr/local/lib/gunicorn-upstart/run-django-project.sh");
    assert.equal(s.setuid, "user");
    assert.equal(s.setgid, "user");
    assert.equal(s.killTimeout, s.gracefulTimeout + 5);
    assert.equal(s.gunicornConfigPath, "/etc/gunicorn/django-project.conf.py");
    assert.equal(s.logLevel, DEFAULTS.logLevel);
  });

  test("the master runs as root only under Upstart with a port below 1024, or when asked", () => {
    const cases: [ServiceSettings, string | undefined, string | undefined][] = [
      [{ user: "web", group: "www" }, "web", "www"],
      [{ user: "web", bind: "unix:/run/web.sock" }, "web", "user"],
      [{ user: "web", bind: "0.0.0.0:80" }, undefined, undefined],
      [{ user: "web", bind: "0.0.0.0:80", init: "systemd" }, "web", "user"],
      [{ user: "web", setuid: "root" }, "root", undefined],
      [{ user: "web", setuid: "other" }, "other", undefined],
      [{ user: "web", setuid: "other", setgid: "grp" }, "other", "grp"],
    ];
    for (const [settings, setuid, setgid] of cases) {
      const s = normalizeSpec(settings);
      assert.equal(s.setuid, setuid, JSON.stringify(settings));
      assert.equal(s.setgid, setgid, JSON.stringify(settings));
    }
    assert.equal(normalizeSpec({ gracefulTimeout: 100 }).killTimeout, 105);
    assert.equal(normalizeSpec({ killTimeout: 3 }).killTimeout, 3);
  });

  const bad: [string, ServiceSettings, string, RegExp][] = [
    ["a job name with a slash", { job: "../evil" }, "job", /valid Upstart job name/],
    ["a job name with a newline", { job: "a\nstart on" }, "job", /valid Upstart job name/],
    ["a job name ending in .conf", { job: "site.conf" }, "job", /without '\.conf'/],
    ["an empty job name", { job: "" }, "job", /valid Upstart job name/],
    ["a user with a space", { user: "www data" }, "user", /valid user or group name/],
    ["a user starting with a dash", { user: "-oops" }, "user", /valid user or group name/],
    ["a group with shell syntax", { group: "$(id)" }, "group", /valid user or group name/],
    ["a relative path", { projectDir: "app" }, "projectDir", /not absolute/],
    ["a path with a newline", { logFile: "/var/log/a\nb" }, "logFile", /newlines/],
    ["a path with ..", { virtualenv: "/srv/../etc" }, "virtualenv", /'\.\.'/],
    [
      "a launcher path with a blank (lands in exec)",
      { launcherPath: "/srv/a b/run.sh" },
      "launcherPath",
      /only letters, digits/,
    ],
    [
      "a start timeout the health gate can never pass",
      { startTimeout: 1 },
      "startTimeout",
      /can never pass the health gate, which needs the master serving for 2 s/,
    ],
    [
      "an unknown sandbox directive",
      { relaxSandbox: ["ProtectEverything" as never] },
      "relaxSandbox[0]",
      /expected one of NoNewPrivileges/,
    ],
    [
      "a writable path with a blank",
      { readWritePaths: ["/srv/media files"] },
      "readWritePaths[0]",
      /systemd path list/,
    ],
    ["a chdir with a quote", { chdir: "/srv/it's" }, "chdir", /only letters, digits/],
    ["a bind without port", { bind: "127.0.0.1" }, "bind", /HOST:PORT/],
    ["a bind with port 0", { bind: "127.0.0.1:0" }, "bind", /1 to 65535/],
    ["a bind with port 70000", { bind: "0.0.0.0:70000" }, "bind", /1 to 65535/],
    ["a bind with a bad IPv4", { bind: "300.1.1.1:80" }, "bind", /IPv4/],
    ["a bind with shell syntax", { bind: "$(reboot):80" }, "bind", /HOST:PORT/],
    [
      "an unknown log level",
      { logLevel: "verbose" as "info" },
      "logLevel",
      /debug, info, warning, error, critical/,
    ],
    ["zero workers", { workers: 0 }, "workers", /1 to 1024/],
    ["fractional workers", { workers: 2.5 }, "workers", /whole number/],
    ["workers as text", { workers: "many" }, "workers", /whole number/],
    ["a negative timeout", { timeout: -1 }, "timeout", /0 to 86400/],
    ["a description with a quote", { description: 'a "b"' }, "description", /'"'/],
    ["a description with a newline", { description: "a\nexec /bin/sh" }, "description", /newlines/],
    [
      "a bad stop runlevel set",
      { stopOnRunlevels: "[1]" as "[06]" },
      "stopOnRunlevels",
      /\[06\], \[!2345\]/,
    ],
    ["a job env value with $", { jobEnv: { A: "$HOME" } }, "jobEnv.A", /'\$'/],
    [
      "a job env value with a newline",
      { jobEnv: { A: "x\nexec y" } },
      "jobEnv.A",
      /control characters/,
    ],
    ["a bad env name", { jobEnv: { "A-B": "x" } }, "jobEnv", /environment variable name/],
    ["a WSGI app with shell syntax", { wsgiApp: "app;reboot" }, "wsgiApp", /module\.path:callable/],
    ["a bad umask", { umask: "999" }, "umask", /octal umask/],
    ["nofile soft above hard", { nofile: { soft: 10, hard: 5 } }, "nofile", /above hard/],
    ["an unknown reload signal", { reloadSignal: "SIGFOO" }, "reloadSignal", /HUP/],
    ["an exit code above 255", { normalExit: ["300"] }, "normalExit[0]", /0 to 255/],
    ["an extra arg with NUL", { extraArgs: ["a\0b"] }, "extraArgs[0]", /NUL/],
    [
      "two files on one path",
      { logFile: "/etc/gunicorn/django-project.conf.py" },
      "logFile",
      /also used for 'gunicornConfigPath'/,
    ],
  ];
  for (const [what, settings, field, allowed] of bad) {
    test(`refuses ${what}, naming '${field}'`, () => rejects(settings, field, allowed));
  }

  test("accepts awkward but valid values unchanged: spaces and quotes in paths, IPv6 and unix binds", () => {
    const s = normalizeSpec({
      projectDir: "/srv/my app/it's",
      launcherPath: "/srv/run-site.sh",
      bind: "[::1]:8443",
    });
    assert.equal(s.projectDir, "/srv/my app/it's");
    assert.deepEqual(parseBind("bind", "[::1]:8443"), { kind: "tcp", host: "[::1]", port: 8443 });
    assert.deepEqual(parseBind("bind", "unix:/run/app.sock"), {
      kind: "unix",
      path: "/run/app.sock",
    });
  });

  test("release tasks: static files under the app root by default, commands one line each", () => {
    const spec = normalizeSpec({ releases: true, job: "shop" });
    assert.equal(spec.staticRoot, "/srv/shop/static");
    assert.equal(spec.migrate, true);
    assert.equal(spec.collectStatic, true);
    assert.deepEqual(spec.releaseCommands, []);
    assert.equal(normalizeSpec({}).staticRoot, undefined, "no releases: the app's own setting");
    rejects({ releaseCommands: ["echo a\necho b"] }, "releaseCommands[0]", /one command a line/);
    rejects({ releaseCommands: [" "] }, "releaseCommands[0]", /1 to 2000 characters/);
    rejects({ staticRoot: "static" }, "staticRoot", /absolute/);
  });

  test("the app environment gets STATIC_ROOT from staticRoot, and refuses a second one in appEnv", () => {
    const spec = normalizeSpec({ releases: true, job: "shop" });
    assert.deepEqual(appEnvironment(spec, { A: "1" }), { A: "1", STATIC_ROOT: "/srv/shop/static" });
    assert.throws(
      () => appEnvironment(spec, { STATIC_ROOT: "/elsewhere" }),
      (e: unknown) =>
        e instanceof SpecError &&
        e.field === "appEnv.STATIC_ROOT" &&
        /set 'staticRoot' instead/.test(e.message),
    );
    assert.deepEqual(appEnvironment(normalizeSpec({}), { STATIC_ROOT: "/mine" }), {
      STATIC_ROOT: "/mine",
    });
  });

  test("no file shares the path of the server hooks' module, which a root master runs", () => {
    // A log file there would be Python the app user writes and a root master runs at a HUP.
    const hooks = "/etc/gunicorn/shop.hooks.py";
    rejects({ job: "shop", logFile: hooks }, "logFile", /also used for 'the server hooks' module/);
    rejects({ job: "shop", launcherPath: hooks }, "launcherPath", /each file needs its own path/);
    rejects({ job: "shop", gunicornConfigPath: hooks }, "gunicornConfigPath", /server hooks/);
    assert.equal(normalizeSpec({ job: "shop" }).job, "shop");
  });

  test("is deterministic: the same settings give equal specs", () => {
    assert.deepEqual(normalizeSpec({ workers: 5 }), normalizeSpec({ workers: 5 }));
  });
});

// A current Gunicorn from PyPI, beside Debian's 20.1: scripts/test-deps.sh downloads the pinned
// wheel into the cache (outside git) when the test environment is set up; this installs it into
// a virtualenv on a test host, from the host's setup script (base64 in the script: the systemd
// host is a container with its own file system). A pure-Python wheel installs by unpacking it
// into site-packages and writing its console script, which is all pip would do here.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** Where the tests and the bench put the current Gunicorn's virtualenv on a test host. */
export const CURRENT_GUNICORN_VENV = "/home/app/venv-current";

/** The cache's wheels directory, where scripts/cache-dir.sh (the one place it is declared) says. */
function wheelsDir(): string {
  const script = resolve(__dirname, "../../scripts/cache-dir.sh");
  const r = spawnSync("bash", ["-c", '. "$1" && printf %s "$cache"', "bash", script], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
  return join(r.stdout, "wheels");
}

/** The downloaded wheel's path and version; fails naming the script that downloads it. */
export function currentGunicornWheel(): { path: string; version: string } {
  const dir = wheelsDir();
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => /^gunicorn-[0-9.]+-py3-none-any\.whl$/.test(n));
  } catch {
    // missing directory: said below
  }
  const name = names.sort().pop();
  if (name === undefined) {
    throw new Error(`no Gunicorn wheel in ${dir}: run bash scripts/test-deps.sh first`);
  }
  return { path: join(dir, name), version: name.split("-")[1] as string };
}

/**
 * The current Gunicorn for this machine's /usr/bin/python3: the wheel unpacked into `dir` (all
 * that installs a pure-Python wheel), to put on PYTHONPATH. Returns `dir`.
 */
export function unpackCurrentGunicorn(dir: string): string {
  const unpack = "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])";
  const r = spawnSync("/usr/bin/python3", ["-c", unpack, currentGunicornWheel().path, dir], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`unpacking the Gunicorn wheel into ${dir}: ${r.stderr}`);
  return dir;
}

/**
 * Bash for a test host's setup script: a virtualenv at `venv` that sees Debian's Django (system
 * site packages) and has the current Gunicorn, which comes first on its path.
 */
export function currentGunicornSetup(venv: string): string {
  const wheel = readFileSync(currentGunicornWheel().path).toString("base64");
  return [
    `/usr/bin/python3 -m venv --system-site-packages --without-pip ${venv}`,
    `base64 -d > /tmp/gunicorn.whl <<'WHEEL'`,
    wheel.replace(/(.{76})/g, "$1\n"),
    "WHEEL",
    `${venv}/bin/python - /tmp/gunicorn.whl <<'PY'`,
    "import sys, sysconfig, zipfile",
    "zipfile.ZipFile(sys.argv[1]).extractall(sysconfig.get_paths()['purelib'])",
    "PY",
    `printf '#!${venv}/bin/python\\nimport sys\\nfrom gunicorn.app.wsgiapp import run\\nsys.exit(run())\\n' > ${venv}/bin/gunicorn`,
    `chmod 0755 ${venv}/bin/gunicorn`,
    "rm -f /tmp/gunicorn.whl",
    "",
  ].join("\n");
}

import type { ServiceSpec } from "../spec";
import { shQuote } from "../shell";

/**
 * The release tasks: what runs for each new release after its pre-flight import and before
 * `current` switches to it — `manage.py migrate --noinput`, `manage.py collectstatic
 * --noinput` and the user's `releaseCommands`. Each runs as the app user (never root), in the
 * new release, with the virtualenv's Python first on PATH and the app environment read from the
 * Gunicorn config's `raw_env` (the one place it is kept). A task that fails fails the `up`
 * with the last lines of its output, before anything switches: the running release keeps
 * serving.
 *
 * Old code keeps serving while `migrate` changes the schema, and with a fleet, while the
 * other hosts still run it: migrations must be backward compatible (expand, then contract in
 * a later release). The README says so.
 */

/**
 * Python run by the app's virtualenv as the app user: argv is the Gunicorn config, the
 * release, the task (`migrate`, `collectstatic` or `command`) and, for `command`, the command
 * line. The environment comes from the config, so no secret is on a command line. Django's
 * own tasks run through the release's `manage.py` (it sets DJANGO_SETTINGS_MODULE as the app
 * does), with its `execute_from_command_line` replaced by one that looks at the settings first:
 * an app with no database has nothing to migrate, one without staticfiles nothing to collect,
 * and a missing STATIC_ROOT is said in words, not a traceback. Python 2.7 and 3 syntax.
 */
export const TASK_DRIVER = [
  "import os, runpy, sys",
  "config, release, task = sys.argv[1:4]",
  "for item in runpy.run_path(config).get('raw_env', []):",
  "    name, _, value = item.partition('=')",
  "    os.environ[name] = value",
  "os.chdir(release)",
  "bin_dir = os.path.dirname(sys.executable)",
  "os.environ['VIRTUAL_ENV'] = os.path.dirname(bin_dir)",
  "os.environ['PATH'] = bin_dir + os.pathsep + os.environ.get('PATH', '/usr/bin:/bin')",
  "if task == 'command':",
  "    os.execv('/bin/bash', ['bash', '-c', sys.argv[4]])",
  "sys.path.insert(0, release)",
  "import django.core.management as management",
  "django_main = management.execute_from_command_line",
  "ran = []",
  "def run_task(argv=None):",
  "    ran.append(task)",
  "    import django",
  "    django.setup()",
  "    from django.apps import apps",
  "    from django.conf import settings",
  "    if task == 'migrate':",
  "        engines = [db.get('ENGINE', '') for db in settings.DATABASES.values()]",
  "        if not [e for e in engines if e and not e.endswith('.dummy')]:",
  "            print('no database in the settings: nothing to migrate')",
  "            return",
  "        django_main(['manage.py', 'migrate', '--noinput'])",
  "    elif task == 'collectstatic':",
  "        if not apps.is_installed('django.contrib.staticfiles'):",
  "            print('django.contrib.staticfiles is not installed: nothing to collect')",
  "            return",
  "        if not getattr(settings, 'STATIC_ROOT', None):",
  "            sys.stderr.write('STATIC_ROOT is not set in the settings: add STATIC_ROOT = '",
  "                             'os.environ.get(\"STATIC_ROOT\") (the service sets it to %s), '",
  "                             'or turn collectStatic off\\n' % os.environ.get('STATIC_ROOT'))",
  "            sys.exit(1)",
  "        django_main(['manage.py', 'collectstatic', '--noinput'])",
  "management.execute_from_command_line = run_task",
  "sys.argv = ['manage.py']",
  "runpy.run_path('manage.py', run_name='__main__')",
  "if not ran:",
  "    sys.stderr.write('manage.py did not call execute_from_command_line\\n')",
  "    sys.exit(1)",
].join("\n");

/** Shell variables and the `release_tasks` function of the apply script (releases only). */
export function releaseTaskParts(spec: ServiceSpec): string[] {
  return [
    `MIGRATE=${spec.migrate ? 1 : "''"}`,
    `COLLECT_STATIC=${spec.collectStatic ? 1 : "''"}`,
    `STATIC_DIR=${shQuote(spec.staticRoot ?? "")}`,
    "# Command lines, expanded later by the app user's bash -c, not here.",
    "# shellcheck disable=SC2016",
    `RELEASE_COMMANDS=(${spec.releaseCommands.map(shQuote).join(" ")})`,
    `TASK_DRIVER=${shQuote(TASK_DRIVER)}`,
    "# One task of release $1 as the app user: a progress line; its output goes to the step's log",
    "# and, once it succeeded, its last lines to the step's output (kept, not streamed); on",
    "# failure the up fails with them while the running release stays.",
    "release_task() {",
    "  local release=$1 label=$2 out status=0",
    "  shift 2",
    '  say "gunicorn-upstart: release $(basename -- "$release"): $label"',
    '  out=$(as_app_user "$VIRTUALENV/bin/python" -c "$TASK_DRIVER" "$CONFIG" "$release" "$@" 2>&1) || status=$?',
    '  if [ -n "$out" ]; then printf "%s\\n" "$out" >&2; fi',
    '  if [ "$status" != 0 ]; then',
    '    fail "release $(basename -- "$release"): $label failed; the running release stays"',
    "  fi",
    '  if [ -n "$out" ]; then printf "%s\\n" "$out" | tail -n 30 | sed "s/^/  /" >&7; fi',
    "}",
    "release_tasks() {",
    "  local release=$1 command",
    '  if [ -f "$release/manage.py" ]; then',
    '    if [ -n "$MIGRATE" ]; then release_task "$release" "manage.py migrate" migrate; fi',
    '    if [ -n "$COLLECT_STATIC" ]; then',
    "      # The app user writes the static files; root makes their directory only where root",
    "      # alone can change the path, as for the log directories.",
    '      if [ -n "$STATIC_DIR" ] && [ ! -d "$STATIC_DIR" ]; then',
    '        if root_only_dir "$STATIC_DIR" >/dev/null; then',
    '          install -d -o "$APP_USER" -g "$APP_GROUP" -m 0755 -- "$STATIC_DIR"',
    "        else",
    '          as_app_user mkdir -p -- "$STATIC_DIR"',
    "        fi",
    "      fi",
    '      release_task "$release" "manage.py collectstatic" collectstatic',
    "    fi",
    "  fi",
    "  # (bash before 4.4 calls an empty array unbound under set -u: Ubuntu 14.04 has 4.3.)",
    '  for command in ${RELEASE_COMMANDS[@]+"${RELEASE_COMMANDS[@]}"}; do',
    '    release_task "$release" "$command" command "$command"',
    "  done",
    "}",
  ];
}

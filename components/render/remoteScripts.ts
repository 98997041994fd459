import { shQuote } from "../shell";
import { dirnameOf } from "./launcher";

/**
 * What the engine shows a person. The command provider quotes the whole `create`, `update` or
 * `delete` string into every error it reports (three times in `pulumi up`'s output), streams
 * the lines a command prints while it runs, and makes a failure's message of everything the
 * command printed. So:
 * - the command strings are short fixed stubs ({@link loaderCommand}); the program they run
 *   comes at the head of standard input ({@link loaderInput}), before the file content;
 * - every operation runs under the step runner ({@link STEP_RUNNER}), which keeps what the
 *   commands it runs print in a log and prints, on failure, one reason line (which step, which
 *   host, what failed) and the log's last lines; progress lines go to stderr, which the
 *   components stream (`logging: "stderr"`); results (the lifecycle's status, a run id, a
 *   certificate) go to stdout, kept as the command's output and never streamed.
 */

/** Root runs the command as is; anyone else through `sudo -n` (never a password prompt). */
const SUDO_PREFIX = 'if [ "$(id -u)" -eq 0 ]; then set --; else set -- sudo -n; fi; ';

/**
 * The loader: reads a byte count line, then exactly that many bytes (`read -N` under the C
 * locale counts bytes, and reads a pipe unbuffered, so nothing after the program is taken), and
 * runs them with bash, with the rest of standard input (the file content) as the program's
 * standard input. No program (an empty or short stdin) fails; it never runs a partial one.
 * LC_ALL is set as a shell variable for the read only, then unset: the program runs in the
 * login's own locale.
 */
const LOADER =
  'IFS= read -r n&&LC_ALL=C&&IFS= read -rN "$n" p&&unset LC_ALL&&exec /bin/bash -c "$p" "$0" "$@";' +
  'echo "$0: no program on standard input">&2;exit 2';

/**
 * The command string of operation `op` of a step whose program comes on standard input
 * ({@link loaderInput}): the same short line for every resource, as root, or through `sudo -n`
 * for anyone else (a prompt would hang `pulumi up`, so a missing sudo rule fails at once).
 */
export function loaderCommand(op: string): string {
  return `${SUDO_PREFIX}exec "$@" /bin/bash -c ${shQuote(LOADER)} gunicorn-upstart ${shQuote(op)}`;
}

/**
 * The loader as a `local.Command`'s command (interpreter `/bin/bash -c`): the same stub, without
 * sudo, for a program run on the computer where `pulumi up` runs.
 */
export function localLoaderCommand(op: string): string {
  return `exec /bin/bash -c ${shQuote(LOADER)} gunicorn-upstart ${shQuote(op)}`;
}

/** Standard input for {@link loaderCommand}: the program's byte count, the program, the content. */
export function loaderInput(program: string, content = ""): string {
  return `${Buffer.byteLength(program, "utf8")}\n${program}${content}`;
}

/** How many lines of a failed step's log its error shows, after the reason. */
export const FAILURE_TAIL_LINES = 20;

/** How long a line of that tail may be; longer ones are cut. */
const FAILURE_LINE_CHARS = 300;

/**
 * Shell functions every operation's script starts with: its channels to the person and to the
 * engine (see {@link STEP_RUNNER}). `say`: a progress line, streamed live and kept in the
 * command's output; `reason`: why the step fails (the first one counts); `fail`: a reason, then
 * exit 1. Run bare (no runner), progress and reasons go to stderr and results to stdout.
 * File descriptors 6 to 8: 3 is the health checks' socket, 9 the lifecycle's lock.
 */
export const STEP_CHANNELS = [
  "# Channels of the step runner: 6 progress, 7 results, 8 the reason of a failure.",
  "{ true >&6; } 2>/dev/null || exec 6>&2",
  "{ true >&7; } 2>/dev/null || exec 7>&1",
  "{ true >&8; } 2>/dev/null || exec 8>&2",
  "say() {",
  "  printf '%s\\n' \"$*\" >&6",
  "  printf '%s\\n' \"$*\" >&7",
  "}",
  "reason() {",
  "  printf '%s\\n' \"$*\" >&8",
  "}",
  "fail() {",
  '  reason "$@"',
  "  exit 1",
  "}",
];

/**
 * The step runner, a shell function: `run_step LABEL SCRIPT [ARGS]` runs SCRIPT with bash
 * (`$0` is LABEL, then ARGS), standard input passed on, and sorts what it prints:
 * - what the script and the commands it runs print (fd 1 and 2) goes to a log, not to the
 *   person: apt-get, pip, migrations, Gunicorn's log tail;
 * - progress lines (`say`, fd 6) go to stderr as they come (the components stream stderr);
 * - results (fd 7) go to stdout once the script succeeded;
 * - on failure, stdout gets one line, `gunicorn-upstart: LABEL on HOST failed: REASON` (the
 *   script's first `reason`, else its exit status and the log's last line), then the log's last
 *   {@link FAILURE_TAIL_LINES} lines, each cut at {@link FAILURE_LINE_CHARS} characters. On stdout,
 *   so the engine shows it once, in the error, and does not stream it as well.
 * What the script left of standard input is read (the provider pipes a resource's stored stdin
 * into its delete too; a session that exits with 2 MB of it unread fails with EOF).
 */
export const STEP_RUNNER = [
  "# Safe under set -e (the helper's): no failure here ends the function before it has told why.",
  "run_step() {",
  "  local label=$1 script=$2 work status=0 why",
  "  shift 2",
  "  if ! work=$(mktemp -d 2>/dev/null); then",
  "    # No room for a log: run it with its output as it comes.",
  '    /bin/bash -c "$script" "$label" "$@" 6>&2 7>&1 8>&2 || status=$?',
  "    cat >/dev/null || true",
  '    return "$status"',
  "  fi",
  '  /bin/bash -c "$script" "$label" "$@" 6>&2 7>"$work/out" 8>"$work/reason" >"$work/log" 2>&1 || status=$?',
  "  cat >/dev/null || true",
  '  if [ "$status" -eq 0 ]; then',
  '    cat -- "$work/out"',
  "  else",
  '    why=$(head -n 1 -- "$work/reason" || true)',
  '    [ -n "$why" ] || why="exited with status $status: $(grep -v "^[[:space:]]*$" -- "$work/log" | tail -n 1 || true)"',
  `    printf 'gunicorn-upstart: %s on %s failed: %s\\n' "$label" "$(uname -n)" "$(printf '%s' "$why" | cut -c 1-${FAILURE_LINE_CHARS})"`,
  `    tail -n ${FAILURE_TAIL_LINES} -- "$work/log" | cut -c 1-${FAILURE_LINE_CHARS}`,
  "  fi",
  '  rm -rf -- "$work"',
  '  return "$status"',
  "}",
];

/**
 * The program {@link loaderCommand} loads for one resource: the step runner, and a script per
 * operation, run under it as `label`. Only the operation named by the command runs.
 */
export function renderStepProgram(ops: Record<string, { label: string; script: string }>): string {
  const cases = Object.entries(ops).flatMap(([op, { label, script }]) => [
    `  ${shQuote(op)})`,
    `    run_step ${shQuote(label)} ${shQuote(script)} "$@"`,
    "    ;;",
  ]);
  return operationSwitch(["set -u", ...STEP_RUNNER], cases);
}

/** The program's body: `prelude`, then the operation named by `$1` runs with the rest. */
function operationSwitch(prelude: string[], cases: string[]): string {
  return [
    "# gunicorn-upstart: one step's operations, loaded from standard input by its command.",
    ...prelude,
    "op=${1:-}",
    "shift || true",
    'case "$op" in',
    ...cases,
    "  *)",
    `    echo "gunicorn-upstart: unknown operation '$op'" >&2`,
    "    exit 2",
    "    ;;",
    "esac",
    "",
  ].join("\n");
}

/**
 * A program of operations that run as they are, without the step runner: for a script whose
 * standard output is its result and whose messages are already few (the local machine's).
 */
export function renderPlainProgram(ops: Record<string, string>): string {
  const cases = Object.entries(ops).flatMap(([op, script]) => [
    `  ${shQuote(op)})`,
    `    exec /bin/bash -c ${shQuote(script)} ${shQuote(op)} "$@"`,
    "    ;;",
  ]);
  return operationSwitch([], cases);
}

/**
 * A bash script as one command string, the script quoted into it, run as root (through `sudo -n`
 * for anyone else). For running a script by hand or in a test; the components never use it:
 * the engine would quote the whole script into every error (see {@link loaderCommand}).
 */
export function asRemoteCommand(script: string): string {
  return `${SUDO_PREFIX}exec "$@" /bin/bash -c ${shQuote(script)}`;
}

/**
 * The command string for a `delete` that is not a loaded program (the helper's, or `true`):
 * it reads its standard input to the end first. The command provider pipes a resource's
 * stored `stdin` into `delete` too (a file's content, a whole release), and a command that
 * exits without reading it fails the SSH session with EOF once the unread part exceeds the
 * channel's window (about 2 MB): destroy would fail. A loaded program's runner reads it itself.
 */
export function drainingStdin(command: string): string {
  return command === "true" ? "cat >/dev/null" : `cat >/dev/null; ${command}`;
}

/**
 * The last line of every script whose run the service's lifecycle must follow (file writes,
 * release uploads, the virtualenv build): a random run id, so the command's stdout differs
 * on every run. The lifecycle's update command carries a hash of those outputs: when any of
 * them ran in an `up`, the lifecycle runs too (see ServiceLifecycle). A result (fd 7 of the
 * step runner); stdout when the script runs bare.
 */
export const RUN_ID_LINE =
  'run_id=$(od -An -N8 -tx1 /dev/urandom | tr -d " \\n"); ' +
  'echo "gunicorn-upstart: run $run_id" 2>/dev/null >&7 || echo "gunicorn-upstart: run $run_id"';

/**
 * The command string for one operation of a job's privileged helper (`sudo: "helper"`):
 * `sudo -n <helper> <shape> <operation> [args]`, nothing else runs as root. `args` are
 * numbers, release ids and (for a delete) the path the resource wrote, which the helper checks
 * again and removes only when it manages that path or a helper of the job wrote it.
 */
export function asHelperCommand(
  helper: string,
  shape: string,
  operation: string,
  args: (string | number)[] = [],
): string {
  const words = [helper, shape, operation, ...args.map(String)].map(shQuote).join(" ");
  return `${SUDO_PREFIX}exec "$@" ${words}`;
}

/**
 * A count the script gets at run time as its first positional argument, from the helper,
 * which checks it is a number: the helper's scripts are fixed when it is installed, while file
 * sizes change with every deploy.
 */
export const FIRST_ARG = "$1";
export type Count = number | typeof FIRST_ARG;

/** What {@link renderWriteFileScript} needs to know about one file. */
export interface FileTarget {
  /** Absolute path on the host. */
  path: string;
  /** Owner user name. */
  owner: string;
  /** Owner group name. */
  group: string;
  /** Octal mode, e.g. `0644`. */
  mode: string;
}

/** Options of {@link renderWriteFileScript}. */
export interface WriteOptions {
  /**
   * Shell lines run after the byte check, before the file replaces the old one; they read the
   * new content from `"$tmp"` and `fail` with a message to refuse it (the old file stays).
   */
  check?: string[];
  /** Shell lines run once the file is in place (the helper records what it wrote). */
  after?: string[];
}

/**
 * A shell function, `root_only_dir DIR`: succeeds when root alone can change what DIR's path
 * leads to; otherwise prints the first directory another user can change and fails. Root
 * writes, chowns and chmods files by name; in a directory another user can write, that user
 * swaps a name for a link between two steps and root acts on a file of their choosing. So
 * every directory from `/` to the nearest existing ancestor of DIR, on the path as given and
 * with links resolved, must be root's and not writable by group or others, and no link on the
 * way may be another user's. A sticky directory
 * is fine above an existing entry (others cannot rename root's entries there), but not as the
 * directory where a missing part of DIR is still to be made: there anyone could make that name
 * first, as a link (`/tmp/x` planted before root's `mkdir -p /tmp/x/y`). What `mkdir -p` then
 * adds below is root's.
 */
export const ROOT_ONLY_DIR_FUNCTION = [
  "root_only_dir() {",
  "  local existing=$1 start p owner mode strict to_make=''",
  "  # A dangling link is not a missing part: where it leads is checked (and refused).",
  '  while [ ! -e "$existing" ] && [ ! -L "$existing" ]; do existing=$(dirname -- "$existing"); to_make=1; done',
  '  for start in "$existing" "$(readlink -f -- "$existing")"; do',
  "    p=$start",
  "    strict=$to_make",
  "    while :; do",
  "      read -r owner mode < <(stat -L -c '%u %a' -- \"$p\")",
  '      if [ "$owner" != 0 ] || { (( 8#$mode & 8#022 )) && { [ -n "$strict" ] || ! (( 8#$mode & 8#1000 )); }; }; then',
  '        echo "$p (uid $owner, mode $mode)"',
  "        return 1",
  "      fi",
  "      # A link another user made leads wherever that user likes (in a sticky directory too).",
  '      if [ -L "$p" ] && [ "$(stat -c %u -- "$p")" != 0 ]; then',
  '        echo "$p (a link of uid $(stat -c %u -- "$p"))"',
  "        return 1",
  "      fi",
  "      strict=''",
  '      [ "$p" = / ] && break',
  '      p=$(dirname -- "$p")',
  "    done",
  "  done",
  "}",
];

/**
 * `root_only_tree DIR`: {@link ROOT_ONLY_DIR_FUNCTION} for DIR, and everything in it root's and
 * not writable by group or others too — for code root runs (a virtualenv, a project a root
 * master imports): a root-owned virtualenv whose `bin/` is the app user's would still run the
 * app user's `bin/python` as root. Prints the first offender and fails.
 */
export const ROOT_ONLY_TREE_FUNCTION = [
  ...ROOT_ONLY_DIR_FUNCTION,
  "root_only_tree() {",
  "  local unsafe other",
  '  unsafe=$(root_only_dir "$1") || { echo "$unsafe"; return 1; }',
  '  [ -e "$1" ] || return 0',
  '  other=$(find "$1/" -xdev \\( ! -user root -o \\( ! -type l -perm /022 \\) \\) -print -quit 2>/dev/null || echo "$1 (unreadable)")',
  '  if [ -n "$other" ]; then',
  '    echo "$other (uid $(stat -c %u -- "$other" 2>/dev/null), mode $(stat -c %a -- "$other" 2>/dev/null))"',
  "    return 1",
  "  fi",
  "}",
];

const ROOT_ONLY_DIR_CHECK = [
  ...ROOT_ONLY_DIR_FUNCTION,
  'if ! unsafe=$(root_only_dir "$dir"); then',
  '  fail "refusing to write $path: $unsafe can be changed by a user other than root, who could swap the file for a link while root writes it; put the file in a directory only root can change"',
  "fi",
];

/**
 * Writes standard input to `path` atomically: into a temp file in the same directory, checked
 * for the expected byte count (a dropped SSH session gives a short read, which must never
 * replace the old file), owned and moded, then renamed over the target. On any failure the
 * temp file is removed and the old file stays as it was. Only in directories that root alone
 * can change ({@link ROOT_ONLY_DIR_FUNCTION}).
 */
export function renderWriteFileScript(
  target: FileTarget,
  expectedBytes: Count,
  options: WriteOptions = {},
): string {
  const base = target.path.slice(target.path.lastIndexOf("/") + 1);
  const check = options.check === undefined ? [] : [...options.check, ""];
  return [
    "set -euo pipefail",
    ...STEP_CHANNELS,
    `path=${shQuote(target.path)}`,
    `dir=${shQuote(dirnameOf(target.path))}`,
    `expected_bytes=${expectedBytes}`,
    ...ROOT_ONLY_DIR_CHECK,
    'mkdir -p -- "$dir"',
    `tmp=$(mktemp "$dir/"${shQuote(`.${base}.XXXXXXXX`)})`,
    "trap 'rm -f -- \"$tmp\"' EXIT",
    'cat > "$tmp"',
    'actual_bytes=$(wc -c < "$tmp")',
    'if [ "$actual_bytes" -ne "$expected_bytes" ]; then',
    '  fail "refusing to replace $path: received $actual_bytes of $expected_bytes bytes"',
    "fi",
    ...check,
    `chown -- ${shQuote(`${target.owner}:${target.group}`)} "$tmp"`,
    `chmod -- ${shQuote(target.mode)} "$tmp"`,
    'mv -f -- "$tmp" "$path"',
    "trap - EXIT",
    ...(options.after ?? []),
    RUN_ID_LINE,
    "",
  ].join("\n");
}

/**
 * Removes the file on destroy; a file already gone is fine (idempotent). With `pythonCache`,
 * also the bytecode Python cached when it imported the file (`__pycache__/<name>.*.pyc`, e.g.
 * of Gunicorn's config, which holds the app environment), and `__pycache__` when left empty.
 * With `systemdReload`, the file is a unit: systemd forgets it. `path` is a path, or
 * {@link FIRST_ARG} for the helper, which decides at run time which path it may remove.
 */
export function renderDeleteFileScript(
  path: string,
  options: { pythonCache?: boolean; systemdReload?: boolean; prelude?: string[] } = {},
): string {
  const lines = [
    "set -euo pipefail",
    ...STEP_CHANNELS,
    `path=${path === FIRST_ARG ? '"$1"' : shQuote(path)}`,
    ...(options.prelude ?? []),
    'rm -f -- "$path"',
  ];
  if (options.pythonCache) {
    lines.push(
      'cache="$(dirname -- "$path")/__pycache__"',
      'base=$(basename -- "$path" .py)',
      'rm -f -- "$cache/$base."*.pyc',
      'rmdir -- "$cache" 2>/dev/null || true',
    );
  }
  // A removed unit stays loaded in systemd until its configuration is reloaded.
  if (options.systemdReload) lines.push("systemctl daemon-reload");
  return [...lines, ""].join("\n");
}

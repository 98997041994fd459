import { shQuote } from "./shell";
import { dirnameOf } from "./launcher";
import { hostLib, renderHostProgram } from "./hostProgram";

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
export const FAILURE_LINE_CHARS = 300;

/**
 * Shell functions every operation's script starts with: its channels to the person and to the
 * engine (see {@link STEP_RUNNER}). `say`: a progress line, streamed live and kept in the
 * command's output; `reason`: why the step fails (the first one counts); `fail`: a reason, then
 * exit 1. Run bare (no runner), progress and reasons go to stderr and results to stdout.
 * File descriptors 6 to 8: 3 is the health checks' socket, 9 the lifecycle's lock.
 */
export const STEP_CHANNELS = hostLib("step-channels.sh");

/**
 * The step runner, a shell function, `run_step LABEL SCRIPT [ARGS]`
 * (`components/host/lib/step-runner.sh`): runs SCRIPT under bash with its output in a log;
 * progress (fd 6) to stderr, results (fd 7) to stdout, and on failure a reason line, then the
 * log's last {@link FAILURE_TAIL_LINES} lines. With the two limits it reads, as lines.
 */
export const STEP_RUNNER = [
  `FAILURE_TAIL_LINES=${FAILURE_TAIL_LINES}`,
  `FAILURE_LINE_CHARS=${FAILURE_LINE_CHARS}`,
  ...hostLib("step-runner.sh"),
];

/**
 * The program {@link loaderCommand} loads for one resource (`components/host/step-program.sh`):
 * the step runner, and a script per operation, run under it as `label`. Only the operation
 * named by the command runs.
 */
export function renderStepProgram(ops: Record<string, { label: string; script: string }>): string {
  const steps = Object.entries(ops);
  return renderHostProgram("step-program.sh", {
    OPERATIONS: steps.map(([op]) => op),
    LABELS: steps.map(([, { label }]) => label),
    SCRIPTS: steps.map(([, { script }]) => script),
    FAILURE_TAIL_LINES,
    FAILURE_LINE_CHARS,
  });
}

/**
 * A program of operations that run as they are, without the step runner
 * (`components/host/plain-program.sh`): for a script whose standard output is its result and
 * whose messages are already few (the local machine's).
 */
export function renderPlainProgram(ops: Record<string, string>): string {
  return renderHostProgram("plain-program.sh", {
    OPERATIONS: Object.keys(ops),
    SCRIPTS: Object.values(ops),
  });
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
export const RUN_ID_LINE = hostLib("run-id.sh").join("\n");

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

/**
 * The privileged helper's record of the paths it wrote for a job (`helperRecordPath` in
 * sudoHelper.ts): `file`, in directory `dir`, changed under the lock `file.lock`.
 */
export interface PathRecord {
  dir: string;
  file: string;
}

/** Options of {@link renderWriteFileScript}: the privileged helper's. */
export interface WriteOptions {
  /**
   * Accept only content of this sha256 (`fixedContentCheck` in sudoHelper.ts); anything else is
   * refused before the file is replaced (the old file stays).
   */
  check?: { sha256: string };
  /** Once the file is in place, record its path here (the helper records what it wrote). */
  record?: PathRecord;
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
export const ROOT_ONLY_DIR_FUNCTION = hostLib("root-only-dir.sh");

/**
 * `root_only_tree DIR`: {@link ROOT_ONLY_DIR_FUNCTION} for DIR, and everything in it root's and
 * not writable by group or others too — for code root runs (a virtualenv, a project a root
 * master imports): a root-owned virtualenv whose `bin/` is the app user's would still run the
 * app user's `bin/python` as root. Prints the first offender and fails.
 */
export const ROOT_ONLY_TREE_FUNCTION = hostLib("root-only-tree.sh");

/**
 * Writes standard input to `path` atomically (`components/host/write-file.sh`): a temp file in
 * the same directory, checked for the expected byte count, owned and moded, then renamed over
 * the target; on any failure the old file stays. Only in directories that root alone can
 * change ({@link ROOT_ONLY_DIR_FUNCTION}).
 */
export function renderWriteFileScript(
  target: FileTarget,
  expectedBytes: Count,
  options: WriteOptions = {},
): string {
  return renderHostProgram("write-file.sh", {
    FILE: target.path,
    DIR: dirnameOf(target.path),
    OWNER: target.owner,
    GROUP: target.group,
    MODE: target.mode,
    EXPECTED_BYTES: expectedBytes === FIRST_ARG ? { positional: 1 } : expectedBytes,
    FIXED_SHA256: options.check?.sha256 ?? "",
    RECORD: options.record?.file ?? "",
    RECORD_DIR: options.record?.dir ?? "",
  });
}

/**
 * Removes the file on destroy, idempotently (`components/host/delete-file.sh`); with
 * `pythonCache` its bytecode cache too, with `systemdReload` systemd forgets the unit. `path` is
 * a path, or {@link FIRST_ARG} for the helper, which with `record` removes only the path it
 * manages (`record.managed`) or recorded as written, and drops it from the record.
 */
export function renderDeleteFileScript(
  path: string,
  options: {
    pythonCache?: boolean;
    systemdReload?: boolean;
    record?: { file: string; managed: string };
  } = {},
): string {
  return renderHostProgram("delete-file.sh", {
    FILE: path === FIRST_ARG ? { positional: 1 } : path,
    PYTHON_CACHE: options.pythonCache ?? false,
    SYSTEMD_RELOAD: options.systemdReload ?? false,
    RECORD: options.record?.file ?? "",
    MANAGED: options.record?.managed ?? "",
  });
}

import { shQuote } from "../shell";
import { dirnameOf } from "./launcher";

/**
 * Wraps a bash script into the command string `remote.Command` runs through the SSH user's
 * login shell. As root it runs bash directly; otherwise through `sudo -n` (no password prompt:
 * a prompt would hang `pulumi up`, so a missing sudo rule fails at once instead). Standard
 * input passes through both, which is how file content reaches the host.
 */
export function asRemoteCommand(script: string): string {
  return `${SUDO_PREFIX}exec "$@" /bin/bash -c ${shQuote(script)}`;
}

/**
 * The command string for a `delete`: it reads its standard input to the end first. The
 * command provider pipes a resource's stored `stdin` into `delete` too (a file's content, a
 * whole release), and a command that exits without reading it fails the SSH session with EOF
 * once the unread part exceeds the channel's window (about 2 MB): destroy would fail.
 */
export function drainingStdin(command: string): string {
  return command === "true" ? "cat >/dev/null" : `cat >/dev/null; ${command}`;
}

/**
 * The last line of every script whose run the service's lifecycle must follow (file writes,
 * release uploads, the virtualenv build): a random run id, so the command's stdout differs
 * on every run. The lifecycle's update command carries a hash of those outputs: when any of
 * them ran in an `up`, the lifecycle runs too (see ServiceLifecycle).
 */
export const RUN_ID_LINE =
  'echo "gunicorn-upstart: run $(od -An -N8 -tx1 /dev/urandom | tr -d " \\n")"';

/** Root runs the command as is; anyone else through `sudo -n` (never a password prompt). */
const SUDO_PREFIX = 'if [ "$(id -u)" -eq 0 ]; then set --; else set -- sudo -n; fi; ';

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
   * new content from `"$tmp"` and `exit 1` with a message to refuse it (the old file stays).
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
 * with links resolved, must be root's and not writable by group or others (sticky is fine:
 * others cannot rename root's entries there). What `mkdir -p` then adds below is root's.
 */
export const ROOT_ONLY_DIR_FUNCTION = [
  "root_only_dir() {",
  "  local existing=$1 start p owner mode",
  '  while [ ! -e "$existing" ]; do existing=$(dirname -- "$existing"); done',
  '  for start in "$existing" "$(readlink -f -- "$existing")"; do',
  "    p=$start",
  "    while :; do",
  "      read -r owner mode < <(stat -L -c '%u %a' -- \"$p\")",
  '      if [ "$owner" != 0 ] || { (( 8#$mode & 8#022 )) && ! (( 8#$mode & 8#1000 )); }; then',
  '        echo "$p (uid $owner, mode $mode)"',
  "        return 1",
  "      fi",
  '      [ "$p" = / ] && break',
  '      p=$(dirname -- "$p")',
  "    done",
  "  done",
  "}",
];

const ROOT_ONLY_DIR_CHECK = [
  ...ROOT_ONLY_DIR_FUNCTION,
  'if ! unsafe=$(root_only_dir "$dir"); then',
  '  echo "refusing to write $path: $unsafe can be changed by a user other than root, who could swap the file for a link while root writes it; put the file in a directory only root can change" >&2',
  "  exit 1",
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
    '  echo "refusing to replace $path: received $actual_bytes of $expected_bytes bytes" >&2',
    "  exit 1",
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

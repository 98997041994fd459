import { shQuote } from "../shell";
import { FIRST_ARG, ROOT_ONLY_DIR_FUNCTION, RUN_ID_LINE } from "./remoteScripts";

/**
 * Unpacks the release from stdin into `<appRoot>/releases/<id>` unless it is already there:
 * into a temp dir first, checked for the expected byte count and gzip integrity, then renamed,
 * so a release directory is always complete. Root unpacks into its own temp directory (nothing
 * of the app user's is on the path), makes only files, directories and symlinks, owned by root,
 * with the umask's modes and no setuid/setgid bit: the app user can read and run the release,
 * not change it, and nothing in it runs as anyone else. Releases are app code: never removed
 * on destroy.
 */
export function renderUploadScript(
  appRoot: string,
  id: string,
  expectedBytes: number | "$2",
): string {
  return [
    "set -euo pipefail",
    `ROOT=${shQuote(appRoot)}`,
    // The helper passes the id as its first argument, checked to be 16 hex digits.
    `ID=${id === FIRST_ARG ? id : shQuote(id)}`,
    `expected_bytes=${expectedBytes}`,
    'dir="$ROOT/releases/$ID"',
    // Root makes, moves and removes directories here: never under a path the app can change.
    ...ROOT_ONLY_DIR_FUNCTION,
    'if ! unsafe=$(root_only_dir "$ROOT"); then',
    "  cat > /dev/null",
    '  echo "refusing release $ID: $unsafe can be changed by a user other than root; the app root must be root\'s (the app only reads releases)" >&2',
    "  exit 1",
    "fi",
    'if [ -f "$dir/.gunicorn-upstart-release" ]; then',
    "  cat > /dev/null",
    '  echo "gunicorn-upstart: release $ID is already on the host"',
    `  ${RUN_ID_LINE}`,
    "  exit 0",
    "fi",
    'mkdir -p -- "$ROOT/releases"',
    'tmp=$(mktemp -d "$ROOT/releases/.incoming.XXXXXXXX")',
    "trap 'rm -rf -- \"$tmp\"' EXIT",
    'cat > "$tmp/payload"',
    'actual_bytes=$(wc -c < "$tmp/payload")',
    'if [ "$actual_bytes" -ne "$expected_bytes" ]; then',
    '  echo "refusing release $ID: received $actual_bytes of $expected_bytes bytes" >&2',
    "  exit 1",
    "fi",
    'mkdir "$tmp/tree"',
    // Only files, directories and symlinks: root's tar would make device nodes and hard links.
    // The whole listing is read before it is judged: a `grep -q` that stopped at the first odd
    // entry killed the listing with SIGPIPE, and under pipefail that pipeline's failure read
    // as "nothing odd" (an archive of many device nodes was unpacked).
    'odd=$(base64 -d "$tmp/payload" | tar -tvzf - | grep -v "^[-dl]" || true)',
    'if [ -n "$odd" ]; then',
    '  echo "refusing release $ID: it holds entries other than files, directories and symlinks" >&2',
    "  exit 1",
    "fi",
    // Root's tar keeps the archive's mode bits: a setuid file would run as root. The umask,
    // not the archive, decides; then no setuid or setgid bit may be left anywhere.
    'base64 -d "$tmp/payload" | tar -xzf - -C "$tmp/tree" --no-same-owner --no-same-permissions',
    'find "$tmp/tree" ! -type l -perm /6000 -exec chmod ug-s -- {} +',
    'if [ -n "$(find "$tmp/tree" ! -type l -perm /6000 -print -quit)" ]; then',
    '  echo "refusing release $ID: a setuid or setgid file is left after unpacking" >&2',
    "  exit 1",
    "fi",
    'chmod 0755 "$tmp/tree"',
    'touch "$tmp/tree/.gunicorn-upstart-release"',
    'rm -rf -- "$dir"',
    'mv -T -- "$tmp/tree" "$dir"',
    'echo "gunicorn-upstart: release $ID unpacked"',
    RUN_ID_LINE,
    "",
  ].join("\n");
}

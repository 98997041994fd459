import { createHash } from "node:crypto";
import { renderUploadScript } from "../release";
import { shQuote } from "../shell";
import type { Init, ServiceSpec } from "../spec";
import { renderApplyScript, renderStopScript } from "./lifecycleScripts";
import { logrotatePath, renderLogrotate } from "./logrotate";
import {
  FIRST_ARG,
  renderDeleteFileScript,
  renderWriteFileScript,
  type FileTarget,
} from "./remoteScripts";
import { renderServiceFiles } from "./serviceFiles";

/**
 * `sudo: "helper"`: instead of running generated scripts as root (which needs sudo for
 * everything), the SSH user runs one root-owned program per job, allowed by a sudoers rule that
 * names only it. The program holds the same scripts the component runs in `sudo: "all"` mode,
 * fixed at install time; what the deploy user still chooses is content (the job file, checked
 * to keep `setuid <app user>` and only plain stanzas; the launcher and Gunicorn config, which
 * then run as the app user; the app release) and byte counts. So the deploy user can change
 * the app and its settings, and cannot run anything as root.
 */

/** How a component calls the helper: where it is and the shape it must have. */
export interface HelperRef {
  path: string;
  shape: string;
}

/** Where the helper for a job is installed. */
export function helperPath(job: string): string {
  return `/usr/local/sbin/gunicorn-upstart-${job}`;
}

/** Where its sudoers rule goes; sudo skips files in sudoers.d whose name has a '.'. */
export function sudoersPath(job: string): string {
  return `/etc/sudoers.d/gunicorn-upstart-${job.replace(/\./g, "_")}`;
}

/** The sudoers rule: `sshUser` may run the job's helper as root, without a password. */
export function renderSudoersRule(job: string, sshUser: string): string {
  return [
    `# ${sshUser} may run the gunicorn-upstart helper of the job ${job} as root, and nothing else.`,
    "# Written by `npm run render` (gunicorn-upstart); install with mode 0440 and check with visudo -c.",
    `${sshUser} ALL=(root) NOPASSWD: ${helperPath(job)}`,
    "",
  ].join("\n");
}

/** Stanzas a job file may hold under the helper: none of them runs anything as root. */
const ALLOWED_STANZAS = [
  "description",
  "author",
  "version",
  "start",
  "stop",
  "respawn",
  "umask",
  "chdir",
  "limit",
  "kill",
  "console",
  "normal",
  "setuid",
  "setgid",
  "reload",
  "env",
  "exec",
];

/**
 * Shell lines that refuse a job file the deploy user could use to run something as root: any
 * stanza outside {@link ALLOWED_STANZAS} (`script`, `pre-start`, `post-stop`, `chroot`, ...),
 * a control character, an unbalanced quote or a continued line (which could hide a stanza in a
 * string), or anything but exactly one `setuid <user>` (and `setgid <group>` when set).
 */
export function jobFileCheck(
  setuid: string,
  setgid: string | undefined,
  init: Init = "upstart",
): string[] {
  const program = init === "systemd" ? UNIT_CHECK_AWK : JOB_CHECK_AWK;
  return [
    `if ! problems=$(LC_ALL=C awk -v user=${shQuote(setuid)} -v group=${shQuote(setgid ?? "")} ${shQuote(program)} "$tmp"); then`,
    '  echo "refusing $path: the helper runs only services that drop to the app user:" >&2',
    '  printf "%s\\n" "$problems" >&2',
    "  exit 1",
    "fi",
  ];
}

/** The start of both checks: the allowed first words, and no control character anywhere. */
function awkPrelude(allowed: string[]): string[] {
  return [
    `BEGIN { n = split("${allowed.join(" ")}", w, " "); for (i = 1; i <= n; i++) ok[w[i]] = 1 }`,
    '/[[:cntrl:]]/ { print "line " NR ": control character"; bad = 1; next }',
  ];
}

/**
 * The end of both checks: exactly one user line (counted in `uid`) and a group line (`gid`)
 * exactly when a group is required; `userWord`/`groupWord` are how the file spells them.
 */
function awkIdentityEnd(noun: string, userWord: string, groupWord: string): string[] {
  const groupName = groupWord.replace(/[ =]$/, "");
  return [
    "END {",
    `  if (uid != 1) { print "the ${noun} must have exactly one \\"${userWord}" user "\\""; bad = 1 }`,
    `  if (group != "" && gid != 1) { print "the ${noun} must have exactly one \\"${groupWord}" group "\\""; bad = 1 }`,
    `  if (group == "" && gid > 0) { print "the ${noun} may not set ${groupName}"; bad = 1 }`,
    "  exit bad",
    "}",
  ];
}

/** The awk program of {@link jobFileCheck}: prints each problem, exits 1 when there is one. */
export const JOB_CHECK_AWK = [
  ...awkPrelude(ALLOWED_STANZAS),
  "/^ *(#.*)?$/ { next }",
  "{",
  "  q = $0",
  '  if (!($1 in ok)) { print "line " NR ": stanza \\"" $1 "\\" is not allowed"; bad = 1 }',
  '  if (gsub(/"/, "", q) % 2 == 1) { print "line " NR ": unbalanced quote"; bad = 1 }',
  '  if ($0 ~ /\\\\$/) { print "line " NR ": continued line"; bad = 1 }',
  '  if ($1 == "setuid") { uid++; if (NF != 2 || $2 != user) { print "line " NR ": setuid must be " user; bad = 1 } }',
  '  if ($1 == "setgid") { gid++; if (NF != 2 || $2 != group) { print "line " NR ": setgid must be " group; bad = 1 } }',
  "}",
  ...awkIdentityEnd("job", "setuid ", "setgid "),
].join("\n");

/** Unit settings a unit may hold under the helper: none runs anything as root. */
const ALLOWED_UNIT_KEYS = [
  "Description",
  "After",
  "StartLimitIntervalSec",
  "StartLimitBurst",
  "Type",
  "ExecStart",
  "ExecReload",
  "Restart",
  "KillMode",
  "RestartPreventExitStatus",
  "TimeoutStopSec",
  "User",
  "Group",
  "UMask",
  "WorkingDirectory",
  "LimitNOFILE",
  "StandardOutput",
  "StandardError",
  "Environment",
  "WantedBy",
];

/**
 * The systemd unit's counterpart of {@link JOB_CHECK_AWK}: only the sections and settings the
 * renderer writes (no `ExecStartPre`, `PermissionsStartOnly`, capabilities, ...), no `+` or
 * `!` command prefix (which run a command with full privileges despite `User=`), no control
 * character or continued line, and exactly one `User=<user>` (and `Group=` when set).
 */
export const UNIT_CHECK_AWK = [
  ...awkPrelude(ALLOWED_UNIT_KEYS),
  "/^ *([#;].*)?$/ { next }",
  '/\\\\$/ { print "line " NR ": continued line"; bad = 1; next }',
  "/^\\[(Unit|Service|Install)\\]$/ { next }",
  '/^\\[/ { print "line " NR ": section " $0 " is not allowed"; bad = 1; next }',
  "{",
  '  eq = index($0, "="); key = substr($0, 1, eq - 1); value = substr($0, eq + 1)',
  '  if (eq == 0 || !(key in ok)) { print "line " NR ": setting \\"" key "\\" is not allowed"; bad = 1; next }',
  '  if ((key == "ExecStart" || key == "ExecReload") && value ~ /^[-@:]*[+!]/) { print "line " NR ": " key " may not run with full privileges"; bad = 1 }',
  '  if (key == "User") { uid++; if (value != user) { print "line " NR ": User must be " user; bad = 1 } }',
  '  if (key == "Group") { gid++; if (value != group) { print "line " NR ": Group must be " group; bad = 1 } }',
  "}",
  ...awkIdentityEnd("unit", "User=", "Group="),
].join("\n");

/** Shell lines that refuse any content but the one rendered when the helper was installed. */
function fixedContentCheck(content: string): string[] {
  const sum = createHash("sha256").update(content, "utf8").digest("hex");
  return [
    `if [ "$(sha256sum < "$tmp" | cut -d " " -f 1)" != ${sum} ]; then`,
    '  echo "refusing $path: it runs as root, so its content is fixed when the helper is installed; render and install the helper again" >&2',
    "  exit 1",
    "fi",
  ];
}

/** One operation of the helper: its name, what its arguments are, and its script. */
interface Operation {
  name: string;
  args: ("count" | "release")[];
  script: string;
}

/** The operations for one file: write (content on stdin, byte count argument) and delete. */
function fileOperations(
  role: string,
  target: FileTarget,
  check: string[] | undefined,
  deletion: { pythonCache?: boolean; systemdReload?: boolean } = {},
): Operation[] {
  return [
    {
      name: `write-${role}`,
      args: ["count"],
      script: renderWriteFileScript(target, FIRST_ARG, check ? { check } : {}),
    },
    {
      name: `delete-${role}`,
      args: [],
      script: renderDeleteFileScript(target.path, deletion),
    },
  ];
}

function operations(spec: ServiceSpec): Operation[] {
  const files = renderServiceFiles(spec, {});
  const ops = [
    ...fileOperations("job", files.job, jobFileCheck(spec.setuid ?? "", spec.setgid, spec.init), {
      systemdReload: spec.init === "systemd",
    }),
    ...fileOperations("launcher", files.launcher, undefined),
    ...fileOperations("config", files.gunicornConfig, undefined, { pythonCache: true }),
  ];
  if (spec.logrotate) {
    // logrotate runs the rule's postrotate as root: its content cannot come from the deploy user.
    const target = { path: logrotatePath(spec), owner: "root", group: "root", mode: "0644" };
    ops.push(...fileOperations("logrotate", target, fixedContentCheck(renderLogrotate(spec))));
  }
  if (spec.appRoot !== undefined) {
    ops.push({
      name: "upload-release",
      args: ["release", "count"],
      script: renderUploadScript(spec.appRoot, FIRST_ARG, "$2"),
    });
  }
  ops.push(
    { name: "apply", args: [], script: renderApplyScript(spec) },
    { name: "stop", args: [], script: renderStopScript(spec) },
  );
  return ops;
}

/** The helper program for a job, and its shape: a hash of everything fixed in it. */
export interface RenderedHelper {
  path: string;
  content: string;
  shape: string;
  /** Operation names, for documentation and tests. */
  operations: string[];
}

const ARG_CHECKS = {
  count: (i: number) => `is_count "$${i}"`,
  release: (i: number) => `is_release "$${i}"`,
};

/**
 * Renders the helper: a bash program that takes the shape it was rendered for (a stale helper
 * fails with what to do), an operation and that operation's arguments, checks them, and runs
 * the operation's fixed script with bash. Standard input passes through to the script.
 */
export function renderSudoHelper(spec: ServiceSpec): RenderedHelper {
  const ops = operations(spec);
  const name = `gunicorn-upstart-${spec.job}`;
  const cases = ops.flatMap((op) => [
    `  ${op.name})`,
    `    expect_args ${op.args.length} "$@"`,
    ...op.args.map((kind, i) => `    ${ARG_CHECKS[kind](i + 1)}`),
    `    exec /bin/bash -c ${shQuote(op.script)} ${op.name} "$@"`,
    "    ;;",
  ]);
  const body = [
    `JOB=${shQuote(spec.job)}`,
    `OPERATIONS=${shQuote(ops.map((op) => op.name).join(" "))}`,
    "",
    "fail() {",
    '  echo "$(basename -- "$0"): $1" >&2',
    '  exit "${2:-2}"',
    "}",
    "expect_args() {",
    "  local want=$1",
    "  shift",
    '  [ "$#" -eq "$want" ] || fail "$op takes $want argument(s), got $#"',
    "}",
    "is_count() {",
    '  [[ "$1" =~ ^[0-9]{1,12}$ ]] || fail "expected a byte count, got \'$1\'"',
    "}",
    "is_release() {",
    '  [[ "$1" =~ ^[0-9a-f]{16}$ ]] || fail "expected a release id (16 hex digits), got \'$1\'"',
    "}",
    "",
    'if [ "$#" -lt 2 ]; then',
    '  fail "usage: $0 SHAPE OPERATION [ARGS]; operations: $OPERATIONS"',
    "fi",
    'if [ "$1" != "$SHAPE" ]; then',
    '  fail "this helper was installed for shape $SHAPE of the job $JOB, the stack asks for shape $1: the job\'s paths or settings changed since; render the helper again (npm run render) and install it as root (README, Least privilege)" 3',
    "fi",
    "op=$2",
    "shift 2",
    'case "$op" in',
    ...cases,
    "  *)",
    "    fail \"unknown operation '$op'; operations: $OPERATIONS\"",
    "    ;;",
    "esac",
    "",
  ].join("\n");
  const shape = createHash("sha256").update(body, "utf8").digest("hex").slice(0, 16);
  const content = [
    "#!/bin/bash",
    `# ${name}: the gunicorn-upstart privileged helper of the Upstart job ${spec.job}.`,
    "# Generated by `npm run render` (sudo: helper); do not edit. Install as root:root 0755; the",
    `# sudoers rule ${sudoersPath(spec.job)} lets the deploy user run this, and only this, as root.`,
    "# Each operation runs a fixed script; arguments are byte counts and release ids only.",
    "set -euo pipefail",
    `SHAPE=${shape}`,
    body,
  ].join("\n");
  return { path: helperPath(spec.job), content, shape, operations: ops.map((op) => op.name) };
}

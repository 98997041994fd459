import { createHash } from "node:crypto";
import { renderUploadScript } from "./releaseScripts";
import { shQuote } from "../shell";
import type { ServiceSpec } from "../spec";
import { applyLabel, renderApplyScript, renderStopScript, stopLabel } from "./lifecycleScripts";
import {
  FIRST_ARG,
  renderDeleteFileScript,
  renderWriteFileScript,
  STEP_RUNNER,
  type FileTarget,
} from "./remoteScripts";
import { initNoun } from "./launcher";
import { HOST_FILES, hasHostFile } from "./hostFiles";

/**
 * `sudo: "helper"`: instead of running generated scripts as root (which needs sudo for
 * everything), the SSH user runs one root-owned program per job, allowed by a sudoers rule that
 * names only it. The program holds the same scripts the component runs in `sudo: "all"` mode,
 * fixed at install time, and so is everything root runs or reads as instructions: the job file
 * or unit and the logrotate rule are accepted only byte for byte as rendered then. What the
 * deploy user still chooses is what runs as the app user (the launcher and the Gunicorn config,
 * since the job drops to the app user; the app release, unpacked without setuid bits), byte
 * counts, release ids and archive hashes. So the deploy user can change the app and its
 * settings, and cannot run anything as root.
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

/**
 * Shell lines that refuse any content but the one rendered when the helper was installed: the
 * file's identity (sha256 of the rendered bytes), not a pattern. A pattern check of a job file
 * or unit was bypassed several ways (Upstart reads a parenthesised `start on` across lines,
 * systemd ignores `User=` outside `[Service]` and honours `ExecStart= +...`), so whatever runs
 * as root or tells root what to run is fixed inside the helper.
 */
export function fixedContentCheck(content: string): string[] {
  const sum = createHash("sha256").update(content, "utf8").digest("hex");
  return [
    `if [ "$(sha256sum < "$tmp" | cut -d " " -f 1)" != ${sum} ]; then`,
    '  fail "refusing $path: it runs as root, so its content is fixed when the helper is installed; render and install the helper again"',
    "fi",
  ];
}

/** One operation of the helper: its name, what its arguments are, its script and what it does. */
interface Operation {
  name: string;
  args: ("count" | "release" | "sha256" | "path")[];
  script: string;
  /** The step, in words, for the line that says it failed ("writing /etc/init/x.conf"). */
  label: string;
}

/**
 * Where the helper records, as root, every path it wrote for the job: a later helper (after a
 * path change and a reinstall) still removes the old file when the stack deletes it, rather
 * than leaving it (the old Gunicorn config holds the app environment) or failing the delete.
 */
export function helperRecordPath(spec: ServiceSpec): string {
  return `${spec.stateDir}/${spec.job}.files`;
}

/**
 * The operations for one file: write (content on stdin, byte count argument; then the path is
 * recorded) and delete (the path the resource wrote as argument: removed when it is this
 * helper's or recorded as written by a helper of the job, else left with a notice).
 */
function fileOperations(
  spec: ServiceSpec,
  role: string,
  target: FileTarget,
  check: string[] | undefined,
  deletion: { pythonCache?: boolean; systemdReload?: boolean } = {},
): Operation[] {
  const record = shQuote(helperRecordPath(spec));
  const lock = shQuote(`${helperRecordPath(spec)}.lock`);
  return [
    {
      name: `write-${role}`,
      args: ["count"],
      label: `writing ${target.path}`,
      script: renderWriteFileScript(target, FIRST_ARG, {
        ...(check ? { check } : {}),
        after: [
          `mkdir -p -- ${shQuote(spec.stateDir)}`,
          // The engine runs a stack's writes and deletes at the same time: one at a time here.
          `exec 8>> ${lock}`,
          "flock 8",
          `grep -qxF -- "$path" ${record} 2>/dev/null || printf '%s\\n' "$path" >> ${record}`,
        ],
      }),
    },
    {
      name: `delete-${role}`,
      args: ["path"],
      label: `removing the ${role} file`,
      script: renderDeleteFileScript(FIRST_ARG, {
        ...deletion,
        prelude: [
          `if [ "$path" != ${shQuote(target.path)} ] && ! grep -qxF -- "$path" ${record} 2>/dev/null; then`,
          '  say "gunicorn-upstart: left $path on the host: no helper of this job wrote it; remove it as root if it is no longer needed"',
          "  exit 0",
          "fi",
          `if [ -f ${record} ]; then`,
          // Deletes run at the same time on destroy (the real engine showed two of them racing
          // on one temp file): the record is rewritten under a lock.
          `  exec 8>> ${lock}`,
          "  flock 8",
          `  { grep -vxF -- "$path" ${record} || true; } > ${record}.new`,
          `  mv -f -- ${record}.new ${record}`,
          "fi",
        ],
      }),
    },
  ];
}

function operations(spec: ServiceSpec): Operation[] {
  const ops: Operation[] = [];
  for (const file of HOST_FILES) {
    if (!hasHostFile(spec, file)) continue;
    // Root runs what a `fixed` file says: its content is fixed at install time.
    const check = file.helper === "fixed" ? fixedContentCheck(file.render(spec, {})) : undefined;
    ops.push(
      ...fileOperations(spec, file.role, file.target(spec), check, {
        pythonCache: file.pythonCache,
        systemdReload: file.systemdReload(spec),
      }),
    );
  }
  if (spec.appRoot !== undefined) {
    ops.push({
      name: "upload-release",
      // It reads the deploy user's copy of the archive as the deploy user, and checks its
      // sha256 before it unpacks anything.
      args: ["release", "sha256"],
      label: `uploading a release of ${spec.job}`,
      script: renderUploadScript(spec.appRoot, FIRST_ARG, "$2"),
    });
  }
  // The stop runs on destroy: the helper and its rule are the admin's to remove, so say so.
  const notice = `gunicorn-upstart: ${spec.job} is stopped and its files go next; the helper ${helperPath(spec.job)} and the sudoers rule ${sudoersPath(spec.job)} stay: remove them as root when the job is gone for good`;
  ops.push(
    { name: "apply", args: [], label: applyLabel(spec), script: renderApplyScript(spec) },
    {
      name: "stop",
      args: [],
      label: stopLabel(spec),
      script: `${renderStopScript(spec)}say ${shQuote(notice)}\n`,
    },
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
  sha256: (i: number) => `is_sha256 "$${i}"`,
  path: (i: number) => `is_path "$${i}"`,
};

/**
 * Renders the helper: a bash program that takes the shape it was rendered for (a stale helper
 * fails with what to do), an operation and that operation's arguments, checks them, and runs
 * the operation's fixed script with bash under the step runner (its chatter in a log; on
 * failure, a reason line and the log's tail). Standard input passes through to the script.
 */
export function renderSudoHelper(spec: ServiceSpec): RenderedHelper {
  const ops = operations(spec);
  const name = `gunicorn-upstart-${spec.job}`;
  const cases = ops.flatMap((op) => [
    `  ${op.name})`,
    `    expect_args ${op.args.length} "$@"`,
    ...op.args.map((kind, i) => `    ${ARG_CHECKS[kind](i + 1)}`),
    `    run_step ${shQuote(op.label)} ${shQuote(op.script)} "$@"`,
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
    ...STEP_RUNNER,
    "expect_args() {",
    "  local want=$1",
    "  shift",
    '  [ "$#" -eq "$want" ] || fail "$op takes $want argument(s), got $#"',
    "}",
    "is_count() {",
    '  [[ "$1" =~ ^[0-9]{1,12}$ ]] || fail "expected a byte count, got \'$1\'"',
    "}",
    "is_path() {",
    '  [[ "$1" =~ ^/[^[:cntrl:]]{0,1023}$ ]] || fail "expected an absolute path, got \'$1\'"',
    "}",
    "is_release() {",
    '  [[ "$1" =~ ^[0-9a-f]{16}$ ]] || fail "expected a release id (16 hex digits), got \'$1\'"',
    "}",
    "is_sha256() {",
    '  [[ "$1" =~ ^[0-9a-f]{64}$ ]] || fail "expected a sha256 (64 hex digits), got \'$1\'"',
    "}",
    "",
    'if [ "$#" -lt 2 ]; then',
    '  fail "usage: $0 SHAPE OPERATION [ARGS]; operations: $OPERATIONS"',
    "fi",
    "# Deletes and the stop are stored with the shape of the helper that was installed when a",
    "# resource was created; they must still run after a reinstall, or destroy and every",
    "# replacement would fail. They act only on what this helper manages or recorded.",
    'if [ "$1" != "$SHAPE" ]; then',
    '  case "$2" in',
    "    delete-* | stop) ;;",
    "    *)",
    '      fail "this helper was installed for shape $SHAPE of the job $JOB, the stack asks for shape $1: the job\'s paths or settings changed since; render the helper again (npm run render) and install it as root (README, Least privilege)" 3',
    "      ;;",
    "  esac",
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
    `# ${name}: the gunicorn-upstart privileged helper of the ${initNoun(spec)} ${spec.job}.`,
    "# Generated by `npm run render` (sudo: helper); do not edit. Install as root:root 0755; the",
    `# sudoers rule ${sudoersPath(spec.job)} lets the deploy user run this, and only this, as root.`,
    "# Each operation runs a fixed script; arguments are byte counts, release ids and hashes only.",
    "set -euo pipefail",
    `SHAPE=${shape}`,
    body,
  ].join("\n");
  return { path: helperPath(spec.job), content, shape, operations: ops.map((op) => op.name) };
}

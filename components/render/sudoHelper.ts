import { createHash } from "node:crypto";
import { renderUploadScript } from "./releaseScripts";
import { shQuote } from "./shell";
import type { ServiceSpec } from "./spec";
import { applyLabel, renderApplyScript, renderStopScript, stopLabel } from "./lifecycleScripts";
import {
  FAILURE_LINE_CHARS,
  FAILURE_TAIL_LINES,
  FIRST_ARG,
  renderDeleteFileScript,
  renderWriteFileScript,
  type FileTarget,
  type WriteOptions,
} from "./remoteScripts";
import { renderHostProgram } from "./hostProgram";
import { HOST_FILES, hasHostFile } from "./hostFiles";
import {
  renderScheduleApplyScript,
  renderScheduleFiles,
  renderScheduleStopScript,
  scheduleApplyLabel,
  scheduleStopLabel,
} from "./scheduleFiles";
import {
  processApplyLabel,
  processStopLabel,
  renderProcessApplyScript,
  renderProcessFiles,
  renderProcessStopScript,
} from "./processFiles";

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
 * The write check that refuses any content but the one rendered when the helper was installed:
 * the file's identity (sha256 of the rendered bytes), not a pattern (why: FIXED_SHA256 in
 * `components/host/write-file.sh`). Whatever runs as root or tells root what to run is fixed
 * inside the helper.
 */
export function fixedContentCheck(content: string): { sha256: string } {
  return { sha256: createHash("sha256").update(content, "utf8").digest("hex") };
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
  check: WriteOptions["check"],
  deletion: { pythonCache?: boolean; systemdReload?: boolean } = {},
): Operation[] {
  const record = helperRecordPath(spec);
  return [
    {
      name: `write-${role}`,
      args: ["count"],
      label: `writing ${target.path}`,
      script: renderWriteFileScript(target, FIRST_ARG, {
        ...(check ? { check } : {}),
        record: { dir: spec.stateDir, file: record },
      }),
    },
    {
      name: `delete-${role}`,
      args: ["path"],
      label: `removing the ${role} file`,
      script: renderDeleteFileScript(FIRST_ARG, {
        ...deletion,
        record: { file: record, managed: target.path },
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
  // The processes beside the web: the init runs a process's job as root until it drops to the
  // app user, so the job is fixed like the web's; the launcher runs as the app user only.
  for (const [name, p] of Object.entries(spec.processes)) {
    for (const f of renderProcessFiles(spec, name, p)) {
      const check = f.helper === "fixed" ? fixedContentCheck(f.content) : undefined;
      ops.push(
        ...fileOperations(spec, `process-${name}-${f.role}`, f, check, {
          systemdReload: f.systemdReload,
        }),
      );
    }
    ops.push(
      {
        name: `apply-process-${name}`,
        args: [],
        label: processApplyLabel(spec, name),
        script: renderProcessApplyScript(spec, name, p),
      },
      {
        name: `stop-process-${name}`,
        args: [],
        label: processStopLabel(spec, name),
        script: renderProcessStopScript(spec, name),
      },
    );
  }
  // Scheduled jobs: root's init or cron acts on the unit, the timer and the cron entry (the
  // user a cron line names is root's choice), so they are fixed; the runner runs as the app user.
  for (const [name, sched] of Object.entries(spec.schedules)) {
    for (const f of renderScheduleFiles(spec, name, sched)) {
      const check = f.helper === "fixed" ? fixedContentCheck(f.content) : undefined;
      ops.push(
        ...fileOperations(spec, `schedule-${name}-${f.role}`, f, check, {
          systemdReload: f.systemdReload,
        }),
      );
    }
    ops.push(
      {
        name: `apply-schedule-${name}`,
        args: [],
        label: scheduleApplyLabel(spec, name),
        script: renderScheduleApplyScript(spec, name),
      },
      {
        name: `stop-schedule-${name}`,
        args: [],
        label: scheduleStopLabel(spec, name),
        script: renderScheduleStopScript(spec, name),
      },
    );
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

/**
 * Renders the helper (`components/host/sudo-helper.sh`): a bash program that takes the shape it
 * was rendered for (a stale helper fails with what to do), an operation and that operation's
 * arguments, checks them, and runs the operation's fixed script with bash under the step
 * runner. Its shape is a hash of the helper rendered with an empty shape.
 */
export function renderSudoHelper(spec: ServiceSpec): RenderedHelper {
  const ops = operations(spec);
  const render = (shape: string) =>
    renderHostProgram("sudo-helper.sh", {
      SHAPE: shape,
      JOB: spec.job,
      OPERATIONS: ops.map((op) => op.name),
      ARGUMENTS: ops.map((op) => op.args.join(" ")),
      LABELS: ops.map((op) => op.label),
      SCRIPTS: ops.map((op) => op.script),
      FAILURE_TAIL_LINES,
      FAILURE_LINE_CHARS,
    });
  const shape = createHash("sha256").update(render(""), "utf8").digest("hex").slice(0, 16);
  return {
    path: helperPath(spec.job),
    content: render(shape),
    shape,
    operations: ops.map((op) => op.name),
  };
}

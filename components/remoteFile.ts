import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import {
  asHelperCommand,
  loaderCommand,
  renderDeleteFileScript,
  renderStepProgram,
  renderWriteFileScript,
} from "./render/remoteScripts";
import type { HelperRef } from "./render/sudoHelper";
import { checkMode, checkName, checkPath } from "./render/spec";
import { childOptions, hostAddress, remoteCommand, runToken, validated } from "./resourceHelpers";

/** Arguments of {@link RemoteFile}. */
export interface RemoteFileArgs {
  /** SSH connection to the host (its private key should be a secret). */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** Absolute path of the file on the host. A change writes the new path and removes the old. */
  path: pulumi.Input<string>;
  /** The file's content. May be a secret: it travels only through stdin and stays secret. */
  content: pulumi.Input<string>;
  /** Owner user. @default "root" */
  owner?: pulumi.Input<string>;
  /** Owner group. @default "root" */
  group?: pulumi.Input<string>;
  /** Octal mode. @default "0644" */
  mode?: pulumi.Input<string>;
  /**
   * The file is Python that gets imported (e.g. Gunicorn's config): on delete, also remove the
   * bytecode Python cached for it in `__pycache__`. @default false
   */
  pythonCache?: boolean;
  /** The file is a systemd unit: `systemctl daemon-reload` after removing it. @default false */
  systemdReload?: pulumi.Input<boolean>;
  /**
   * Write and delete through the job's privileged helper (`sudo: "helper"`), as its operations
   * `write-<role>` and `delete-<role>`, instead of running the scripts with sudo. The helper
   * holds the same scripts, for the path, owner and mode it was installed with.
   * @default unset (the scripts run with `sudo -n /bin/bash`)
   */
  helper?: pulumi.Input<HelperRef | undefined>;
  /** The file's role in the helper (`job`, `launcher`, `config`, `logrotate`). */
  role?: string;
}

/**
 * One file on a host, written over SSH by `@pulumi/command`: content through stdin (never in
 * the command string, which is a short stub: the write and delete scripts come on stdin ahead
 * of the content), atomic (temp file in the same directory, then `mv`), `sudo` when the SSH
 * user is not root, removed on destroy.
 */
export class RemoteFile extends pulumi.ComponentResource {
  /** Absolute path of the file on the host. */
  public readonly path: pulumi.Output<string>;
  /** The content written (secret when the input was). */
  public readonly content: pulumi.Output<string>;
  /** Changes exactly when the file was written in this `up` (a token of the write's run). */
  public readonly written: pulumi.Output<string>;

  constructor(name: string, args: RemoteFileArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:RemoteFile", name, {}, opts);
    const check = (path: unknown, owner: unknown, group: unknown, mode: unknown) =>
      validated(name, this, () => ({
        path: checkPath("path", path),
        owner: checkName("owner", owner),
        group: checkName("group", group),
        mode: checkMode("mode", mode),
      }));
    const raw: [
      pulumi.Input<string>,
      pulumi.Input<string>,
      pulumi.Input<string>,
      pulumi.Input<string>,
    ] = [args.path, args.owner ?? "root", args.group ?? "root", args.mode ?? "0644"];
    // Plain values are checked at once, so a bad one fails before the command is registered.
    if (raw.every((v) => typeof v === "string")) check(raw[0], raw[1], raw[2], raw[3]);
    const target = pulumi
      .all(raw)
      .apply(([path, owner, group, mode]) => check(path, owner, group, mode));
    // The byte count guards against a short write; it says nothing of a secret's content, so it
    // is deliberately taken out of the secret to keep the command readable in previews.
    const bytes = pulumi.unsecret(
      pulumi.output(args.content).apply((c) => Buffer.byteLength(c, "utf8")),
    );
    const helper = pulumi.output(args.helper);
    const role = args.role ?? "file";
    const write = pulumi
      .all([bytes, helper])
      .apply(([n, h]) =>
        h ? asHelperCommand(h.path, h.shape, `write-${role}`, [n]) : loaderCommand("write"),
      );
    const remove = pulumi
      .all([target, helper])
      .apply(([t, h]) =>
        h ? asHelperCommand(h.path, h.shape, `delete-${role}`, [t.path]) : loaderCommand("delete"),
      );
    // Without the helper, the scripts come on standard input ahead of the content. The byte
    // count is in the program, which the stored stdin pairs with the content it counts.
    const program = pulumi
      .all([target, bytes, helper, args.systemdReload ?? false])
      .apply(([t, n, h, systemdReload]) =>
        h
          ? undefined
          : renderStepProgram({
              write: { label: `writing ${t.path}`, script: renderWriteFileScript(t, n) },
              delete: {
                label: `removing ${t.path}`,
                script: renderDeleteFileScript(t.path, {
                  pythonCache: args.pythonCache === true,
                  systemdReload,
                }),
              },
            }),
      );

    const file = remoteCommand(
      `${name}-write`,
      {
        connection: args.connection,
        create: write,
        // Same script on update: it replaces the file atomically.
        update: write,
        delete: remove,
        program,
        stdin: args.content,
        // A new path or host is a new file: the old one is removed first, then the new one
        // written (so a second name of the same host, e.g. localhost for 127.0.0.1, never
        // removes the file it has just written).
        triggers: [target.apply((t) => t.path), hostAddress(args.connection)],
      },
      { ...childOptions(this, opts), deleteBeforeReplace: true },
    );

    // Plain values: a command's outputs are secret when its connection is, these are not.
    this.path = pulumi.unsecret(file.create.apply(() => target.apply((t) => t.path)));
    this.content = pulumi.output(args.content);
    this.written = runToken(file);
    this.registerOutputs({ path: this.path, content: this.content, written: this.written });
  }
}

/** A file rendered with its target: where it goes, with what ownership, and what it says. */
export interface RenderedTarget {
  role: string;
  path: string;
  owner: string;
  group: string;
  mode: string;
  content: string;
  systemdReload: boolean;
}

/**
 * The RemoteFile `${name}-${role}` of the file of that role among `rendered` (a process's or a
 * scheduled job's files), written through the helper's `write-${prefix}-${role}` with it.
 */
export function renderedRemoteFile(
  name: string,
  role: string,
  rendered: pulumi.Output<RenderedTarget[]>,
  args: {
    connection: RemoteFileArgs["connection"];
    helper: RemoteFileArgs["helper"];
    /** The helper's name for the file: `<prefix>-<role>`. */
    prefix: string;
  },
  opts: pulumi.ComponentResourceOptions,
): RemoteFile {
  const f = rendered.apply((fs) => {
    const found = fs.find((x) => x.role === role);
    if (found === undefined) throw new Error(`${name}: no ${role} file`);
    return found;
  });
  return new RemoteFile(
    `${name}-${role}`,
    {
      connection: args.connection,
      path: f.path,
      owner: f.owner,
      group: f.group,
      mode: f.mode,
      content: f.content,
      systemdReload: f.systemdReload,
      helper: args.helper,
      role: `${args.prefix}-${role}`,
    },
    opts,
  );
}

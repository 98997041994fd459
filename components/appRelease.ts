import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { cacheRelease, packRelease } from "./render/appReleasePlan";
import { releaseUploadPath, renderUploadScript } from "./render/releaseScripts";
import { asHelperCommand, loaderCommand, renderStepProgram } from "./render/remoteScripts";
import type { HelperRef } from "./render/sudoHelper";
import { childOptions, hostAddress, remoteCommand, runToken, validated } from "./resourceHelpers";

/** Arguments of {@link AppRelease}. */
export interface AppReleaseArgs {
  /** SSH connection to the host. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** Local directory of the app (where `manage.py` is); packed deterministically. */
  source: pulumi.Input<string>;
  /** Directory on the host that holds `releases/<id>`. */
  appRoot: pulumi.Input<string>;
  /** Upload through the job's privileged helper (`sudo: "helper"`). @default unset */
  helper?: pulumi.Input<HelperRef | undefined>;
}

/**
 * Uploads the app as a release: the local directory, packed into a deterministic archive whose
 * hash is the release id, unpacked on the host into `<appRoot>/releases/<id>`. An unchanged app
 * gives the same id and runs nothing; a changed one shows its new id in the preview. The
 * service's lifecycle then switches `current` to it and reloads. Releases are app code and are
 * kept on destroy; the lifecycle prunes old ones (`keepReleases`).
 *
 * The archive travels as a file, not as a command's input: the command provider keeps a
 * command's `stdin` in the state (input and output, encrypted, base64), which made the state
 * about four times the app's size, read and written on every `up`. Here the archive is kept in
 * a local cache file named by its hash and copied over SFTP by a `CopyToRemote` (`-copy`), as
 * the SSH user, into its own `~/.gunicorn-upstart/uploads`; the state keeps the file's path and
 * hash only. Then the `-upload` step, as root, reads the copy as the SSH user (root never opens
 * a path another user controls), checks its sha256 before it unpacks anything, and removes the
 * copy once the release is unpacked.
 */
export class AppRelease extends pulumi.ComponentResource {
  /** The release id (a content hash of the app). */
  public readonly releaseId: pulumi.Output<string>;
  /** Changes exactly when the upload ran in this `up`. */
  public readonly written: pulumi.Output<string>;

  constructor(name: string, args: AppReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:AppRelease", name, {}, opts);
    // The archive goes to a local file at once: an Output's value is walked key by key by the
    // SDK (looking for unknowns), and a Buffer of 20 MB has 20 million keys (minutes per `up`).
    const packed = pulumi.output(args.source).apply((dir) =>
      validated(name, this, () => {
        const p = packRelease(dir);
        return { id: p.id, sha256: p.sha256, file: cacheRelease(p) };
      }),
    );
    const copy = new command.remote.CopyToRemote(
      `${name}-copy`,
      {
        connection: args.connection,
        source: packed.apply((p) => new pulumi.asset.FileAsset(p.file)),
        // One file per app root, where the upload step (and a helper, fixed at install) looks.
        remotePath: pulumi.output(args.appRoot).apply(releaseUploadPath),
        // The upload unpacks on whatever host this points to: a new host needs the archive
        // there too, though its hash and path (what an update of a copy looks at) are the same.
        triggers: [hostAddress(args.connection)],
      },
      childOptions(this, opts),
    );
    // The helper takes the release id and the archive's sha256 as arguments.
    const upload = pulumi
      .all([packed, args.helper])
      .apply(([p, h]) =>
        h
          ? asHelperCommand(h.path, h.shape, "upload-release", [p.id, p.sha256])
          : loaderCommand("upload"),
      );
    const program = pulumi.all([args.appRoot, packed, args.helper]).apply(([root, p, h]) =>
      h
        ? undefined
        : renderStepProgram({
            upload: {
              label: `uploading release ${p.id}`,
              script: renderUploadScript(root, p.id, p.sha256),
            },
          }),
    );
    const cmd = remoteCommand(
      `${name}-upload`,
      {
        connection: args.connection,
        create: upload,
        update: upload,
        // Releases are the user's app code: destroy leaves them on the host.
        delete: "true",
        program,
      },
      { parent: this, dependsOn: [copy] },
    );
    this.releaseId = pulumi.unsecret(cmd.create.apply(() => packed.id));
    this.written = runToken(cmd);
    this.registerOutputs({ releaseId: this.releaseId, written: this.written });
  }
}

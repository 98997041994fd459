import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { packRelease } from "./appReleasePlan";
import { renderUploadScript } from "./render/releaseScripts";
import { asHelperCommand, loaderCommand, renderStepProgram } from "./render/remoteScripts";
import type { HelperRef } from "./render/sudoHelper";
import { childOptions, remoteCommand, runToken, validated } from "./resourceHelpers";

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
 */
export class AppRelease extends pulumi.ComponentResource {
  /** The release id (a content hash of the app). */
  public readonly releaseId: pulumi.Output<string>;
  /** Changes exactly when the upload ran in this `up`. */
  public readonly written: pulumi.Output<string>;

  constructor(name: string, args: AppReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:AppRelease", name, {}, opts);
    const packed = pulumi
      .output(args.source)
      .apply((dir) => validated(name, this, () => packRelease(dir)));
    const upload = pulumi
      .all([packed, args.helper])
      .apply(([p, h]) =>
        h
          ? asHelperCommand(h.path, h.shape, "upload-release", [
              p.id,
              Buffer.byteLength(p.archiveBase64),
            ])
          : loaderCommand("upload"),
      );
    const program = pulumi.all([args.appRoot, packed, args.helper]).apply(([root, p, h]) =>
      h
        ? undefined
        : renderStepProgram({
            upload: {
              label: `uploading release ${p.id}`,
              script: renderUploadScript(root, p.id, Buffer.byteLength(p.archiveBase64)),
            },
          }),
    );
    const cmd = remoteCommand(
      `${name}-upload`,
      {
        connection: args.connection,
        create: upload,
        update: upload,
        // Releases are the user's app code: destroy leaves them on the host (the delete only
        // reads the stored archive the provider pipes into it).
        delete: "true",
        program,
        // The archive may hold what the app keeps next to its code (a .env, keys): the state
        // stores it encrypted, like every secret. Its id (a hash) stays readable.
        stdin: pulumi.secret(packed.archiveBase64),
      },
      childOptions(this, opts),
    );
    this.releaseId = pulumi.unsecret(cmd.create.apply(() => packed.id));
    this.written = runToken(cmd);
    this.registerOutputs({ releaseId: this.releaseId, written: this.written });
  }
}

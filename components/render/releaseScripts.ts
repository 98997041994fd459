import { createHash } from "node:crypto";
import { renderHostProgram } from "./hostProgram";
import { FIRST_ARG } from "./remoteScripts";

/**
 * Where the command provider copies a release's archive on the host (over SFTP, as the SSH
 * user), relative to that user's home (where SFTP starts): a directory the user owns, one file
 * per app root (two services deploying to one host never take each other's file), overwritten
 * by the next release and removed once unpacked.
 */
export function releaseUploadPath(appRoot: string): string {
  const name = appRoot.replace(/^\/+/, "").replace(/[^A-Za-z0-9_.-]/g, "_") || "root";
  const hash = createHash("sha256").update(appRoot).digest("hex").slice(0, 8);
  return `.gunicorn-upstart/uploads/${name.slice(0, 100)}-${hash}.tar.gz`;
}

/**
 * Unpacks the release the SSH user copied to {@link releaseUploadPath} into
 * `<appRoot>/releases/<id>` unless it is already there, after checking its sha256:
 * `components/host/release-upload.sh`. For the sudo helper, `id` is {@link FIRST_ARG} and
 * `expectedSha256` is `"$2"`: the script takes them from its arguments, which the helper checks.
 */
export function renderUploadScript(appRoot: string, id: string, expectedSha256: string): string {
  return renderHostProgram("release-upload.sh", {
    ROOT: appRoot,
    ID: id === FIRST_ARG ? "" : id,
    expected_sha256: expectedSha256 === "$2" ? "" : expectedSha256,
    COPY: releaseUploadPath(appRoot),
  });
}

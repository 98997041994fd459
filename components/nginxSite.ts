import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { RemoteFile } from "./remoteFile";
import {
  nginxApplyLabel,
  nginxRemoveLabel,
  renderNginxApplyScript,
  renderNginxRemoveScript,
} from "./render/nginxScripts";
import { nginxFilePath, renderNginxSite, siteUrl } from "./render/nginxSite";
import { loaderCommand, renderStepProgram } from "./render/remoteScripts";
import { hostAddress, remoteCommand, runToken } from "./resourceHelpers";
import type { ServiceSpec } from "./render/spec";

/** Arguments of {@link NginxSite}. */
export interface NginxSiteArgs {
  /** SSH connection to the host. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** The service's resolved settings (`nginx`, `serverName`, ports, `tls`, paths). */
  spec: pulumi.Input<ServiceSpec>;
  /** The host's address, for the site's URL. */
  address: pulumi.Input<string>;
  /** With `tls: "certificate"`: the certificate (chain), PEM. */
  tlsCertificate?: pulumi.Input<string>;
  /** With `tls: "certificate"`: its private key, PEM (keep it a secret). */
  tlsKey?: pulumi.Input<string>;
  /** What must be done first: the service serving (its lifecycle). */
  after?: pulumi.Resource[];
}

/**
 * A service's nginx site: written (with a self-signed certificate made first, or the given
 * certificate and key written first), checked with `nginx -t`, put in service with a graceful
 * reload, and checked through: the health path must answer via nginx (HTTPS when TLS is on).
 * Removed on destroy, with a reload. Created after the service serves; removed before it stops.
 */
export class NginxSite extends pulumi.ComponentResource {
  /** The site's URL from outside: `https://<address>[:port]/` (or `http://` without TLS). */
  public readonly url: pulumi.Output<string>;
  /** The certificate nginx serves (PEM), for clients of a self-signed one (`curl --cacert`). */
  public readonly tlsCertificate: pulumi.Output<string | undefined>;
  /** Changes exactly when the site was written in this `up`. */
  public readonly written: pulumi.Output<string>;

  constructor(name: string, args: NginxSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:NginxSite", name, {}, opts);
    const spec = pulumi.output(args.spec);
    const before: pulumi.Resource[] = [];
    if (args.tlsCertificate !== undefined && args.tlsKey !== undefined) {
      before.push(
        new RemoteFile(
          `${name}-tls-certificate`,
          {
            connection: args.connection,
            path: spec.tlsCertificateFile,
            content: args.tlsCertificate,
            mode: "0644",
          },
          { parent: this },
        ),
        new RemoteFile(
          `${name}-tls-key`,
          {
            connection: args.connection,
            path: spec.tlsKeyFile,
            content: pulumi.secret(args.tlsKey),
            mode: "0600",
          },
          { parent: this },
        ),
      );
    }
    const program = spec.apply((s) =>
      renderStepProgram({
        apply: { label: nginxApplyLabel(s), script: renderNginxApplyScript(s) },
        remove: { label: nginxRemoveLabel(s), script: renderNginxRemoveScript(s) },
      }),
    );
    const site = remoteCommand(
      `${name}-site`,
      {
        connection: args.connection,
        create: loaderCommand("apply"),
        update: loaderCommand("apply"),
        delete: loaderCommand("remove"),
        program,
        stdin: spec.apply(renderNginxSite),
        // Another host, or another path for the site, is a new site: the old one goes first.
        triggers: [hostAddress(args.connection), spec.apply((s) => `${nginxFilePath(s)} ${s.tls}`)],
        // stderr only: progress lines stream; the certificate (stdout) is an output, not a
        // progress line.
        logging: "stderr",
      },
      { parent: this, dependsOn: [...(args.after ?? []), ...before], deleteBeforeReplace: true },
    );
    this.url = pulumi.all([spec, args.address]).apply(([s, address]) => siteUrl(s, address));
    this.tlsCertificate = pulumi.unsecret(
      site.stdout.apply((out) => {
        const m = /-----BEGIN CERTIFICATE-----[^]*-----END CERTIFICATE-----\n/.exec(out);
        return m ? m[0] : undefined;
      }),
    );
    this.written = runToken(site);
    this.registerOutputs({ url: this.url, tlsCertificate: this.tlsCertificate });
  }
}

// The components as a Pulumi package for Python, Go and YAML programs: a source-based plugin
// (PulumiPlugin.yaml, runtime nodejs). `pulumi package add <this directory>` makes an SDK in
// the program's language from the types here, which Pulumi's analyzer reads. A package schema
// has no unions and cannot carry this library's own resources as outputs, so this
// GunicornService takes the settings in the schema's types (SchemaSettingArgs, generated from
// the settings table), runs an existing host only, and exposes plain outputs; inside, it is
// the library's GunicornService, which checks every value as it does for TypeScript.
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import {
  GunicornService as Service,
  type GunicornServiceArgs as ServiceArgs,
} from "../components/gunicornService";
import type { SchemaSettingArgs } from "./settingArgs";

/** Arguments of {@link GunicornService}: every setting, plus the host and what it deploys. */
export interface GunicornServiceArgs extends SchemaSettingArgs {
  /** SSH connection to the existing host the service runs on. */
  host: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** The app's environment, e.g. DJANGO_SETTINGS_MODULE; values may be secrets. A change reloads. @default {} */
  appEnv?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Local directory of the app to deploy as releases (projectDir is then <appRoot>/current). @default unset (the app is already in projectDir) */
  appSource?: pulumi.Input<string>;
  /** Prepare a bare host: packages, user, group, directories (nothing is removed on destroy). @default false */
  prepareHost?: boolean;
  /** With prepareHost: OS packages installed when missing; they replace the default list. @default by init: upstart ["python3", "python3.4-venv"], systemd ["python3", "python3-venv"], and nginx's packages with nginx */
  hostPackages?: string[];
  /** Build the virtualenv with Gunicorn and these requirements (a requirements.txt's text). @default unset (the virtualenv exists) */
  pythonRequirements?: pulumi.Input<string>;
  /** With pythonRequirements: let the virtualenv see the system's packages. @default false */
  systemSitePackages?: boolean;
  /** With pythonRequirements: the host's Python that makes the virtualenv. @default "python3" (the first on the host's PATH) */
  python?: string;
}

/** A Gunicorn app run by Upstart or systemd on an existing host (see the library's README). */
export class GunicornService extends pulumi.ComponentResource {
  /** The host's address. */
  public readonly publicAddress: pulumi.Output<string>;
  /** URL of the app as bound. */
  public readonly url: pulumi.Output<string>;
  /** The job's name: the Upstart job or the systemd unit. */
  public readonly jobName: pulumi.Output<string>;
  /** What the last `up` did to the service, e.g. `hello: reload (master pid 4242)`. */
  public readonly status: pulumi.Output<string>;
  /** A hash of everything the running service depends on. */
  public readonly changeHash: pulumi.Output<string>;

  constructor(name: string, args: GunicornServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gunicorn-upstart:index:GunicornService", name, {}, opts);
    const { prepareHost, hostPackages, pythonRequirements, systemSitePackages, python, ...rest } =
      args;
    // A field that only means something beside another is refused without it, rather than
    // dropped without a word.
    const needs: [string, unknown, string, unknown][] = [
      ["hostPackages", hostPackages, "prepareHost", prepareHost === true ? true : undefined],
      ["systemSitePackages", systemSitePackages, "pythonRequirements", pythonRequirements],
      ["python", python, "pythonRequirements", pythonRequirements],
    ];
    for (const [field, value, other, otherValue] of needs) {
      if (value !== undefined && otherValue === undefined) {
        throw new pulumi.ResourceError(
          `${name}: '${field}' takes effect only with '${other}'${other === "prepareHost" ? ": true" : ""}; set both, or neither`,
          this,
        );
      }
    }
    // The schema's strings (an init, a log level, "4" workers) are what the library's checks
    // take; they refuse anything else at preview, naming the field.
    const inner = new Service(
      name,
      {
        ...(rest as unknown as ServiceArgs),
        ...(prepareHost === true
          ? { prepareHost: hostPackages !== undefined ? { packages: hostPackages } : true }
          : {}),
        ...(pythonRequirements !== undefined
          ? {
              pythonEnv: {
                requirements: pythonRequirements,
                systemSitePackages: systemSitePackages ?? false,
                ...(python !== undefined ? { python } : {}),
              },
            }
          : {}),
      },
      { parent: this },
    );
    this.publicAddress = inner.publicAddress;
    this.url = inner.url;
    this.jobName = inner.jobName;
    this.status = inner.status;
    this.changeHash = inner.changeHash;
    this.registerOutputs({
      publicAddress: this.publicAddress,
      url: this.url,
      jobName: this.jobName,
      status: this.status,
      changeHash: this.changeHash,
    });
  }
}

/**
 * Stack config -> typed settings, shared by `index.ts` (through `pulumi.Config`) and the
 * offline render (through the YAML files), so both read config the same way and fail the
 * same way. Pure: it sees config only through {@link ConfigSource}.
 */
import {
  checkInt,
  checkSudoFor,
  checkPath,
  normalizeSpec,
  parseEnvList,
  SpecError,
  type ServiceSettings,
  type ServiceSpec,
} from "./spec";
import { checkCidr } from "./vmSpec";

/** Reads raw config values the way the Pulumi CLI hands them to a program: as strings. */
export interface ConfigSource {
  get(key: string): string | undefined;
  /** Every key set in the stack's namespace (without the `project:` prefix), when known. */
  keys?(): string[];
}

/** The config keys, their type and whether they are secret; `Pulumi.yaml` declares the same. */
export const CONFIG_KEYS = {
  job: "string",
  description: "string",
  workers: "string",
  bind: "string",
  logLevel: "string",
  logFile: "string",
  user: "string",
  group: "string",
  virtualenv: "string",
  projectDir: "string",
  wsgiApp: "string",
  invocation: "string",
  respawnLimitCount: "integer",
  respawnLimitInterval: "integer",
  stopOnRunlevels: "string",
  launcherPath: "string",
  gunicornConfigPath: "string",
  timeout: "integer",
  gracefulTimeout: "integer",
  maxRequests: "integer",
  killTimeout: "integer",
  appEnv: "array",
  secretEnv: "array",
  host: "string",
  sshPort: "integer",
  sshUser: "string",
  sshPrivateKey: "string",
  instanceType: "string",
  ami: "string",
  publicKey: "string",
  subnetId: "string",
  allowedCidr: "string",
  sshCidr: "string",
  appSource: "string",
  appRoot: "string",
  keepReleases: "integer",
  healthCheckPath: "string",
  healthyStatusBelow: "integer",
  healthCheckHost: "string",
  startTimeout: "integer",
  accessLog: "string",
  prepareHost: "boolean",
  hostPackages: "array",
  buildVirtualenv: "boolean",
  systemSitePackages: "boolean",
  pipIndexUrl: "string",
  wheelhouse: "string",
  sudo: "string",
  init: "string",
  setuid: "string",
  setgid: "string",
  target: "string",
} as const;
export type ConfigKey = keyof typeof CONFIG_KEYS;

/** Keys whose values must be set with `pulumi config set --secret`. */
export const SECRET_KEYS: readonly ConfigKey[] = ["sshPrivateKey", "secretEnv"];

const STRING_SETTINGS = [
  "job",
  "description",
  "bind",
  "logLevel",
  "logFile",
  "user",
  "group",
  "virtualenv",
  "projectDir",
  "wsgiApp",
  "invocation",
  "stopOnRunlevels",
  "launcherPath",
  "gunicornConfigPath",
  "workers",
  "accessLog",
  "appRoot",
  "healthCheckPath",
  "healthCheckHost",
  "sudo",
  "init",
  "setuid",
  "setgid",
] as const;
const INT_SETTINGS = [
  "keepReleases",
  "healthyStatusBelow",
  "startTimeout",
  "respawnLimitCount",
  "respawnLimitInterval",
  "timeout",
  "gracefulTimeout",
  "maxRequests",
  "killTimeout",
] as const;

/** OS packages a bare host needs for a virtualenv, by the init (i.e. the Ubuntu release). */
export const DEFAULT_HOST_PACKAGES = {
  upstart: ["python3", "python3.4-venv"],
  systemd: ["python3", "python3-venv"],
} as const;

/** Where the service runs. */
export type Target =
  | { kind: "local"; sshPort: number }
  | { kind: "host"; host: string; port: number; user: string }
  | {
      kind: "vm";
      sshUser?: string;
      instanceType?: string;
      ami?: string;
      publicKey?: string;
      subnetId?: string;
      allowedCidr?: string;
      sshCidr?: string;
    };

/** Everything the stack program needs from config, except the secret values themselves. */
export interface StackSettings {
  settings: ServiceSettings;
  /** Prepare the host (user, directories, packages), with these packages. */
  prepareHost?: { packages?: string[] };
  /** Build the virtualenv, with these options (requirements come from appSource). */
  pythonEnv?: { systemSitePackages: boolean; indexUrl?: string; wheelhouse?: string };
  /** Local app directory to deploy as releases, if any. */
  appSource?: string;
  /** The validated spec: what will be rendered. */
  spec: ServiceSpec;
  appEnv: Record<string, string>;
  target: Target;
}

function parseList(key: string, raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new SpecError(key, `expected a list such as ["NAME=value"], got ${JSON.stringify(raw)}`);
  }
}

/**
 * The error for a VM stack without a public key; only `pulumi up` needs the key, the offline
 * render does not.
 */
export function missingSshCidr(): SpecError {
  return new SpecError(
    "sshCidr",
    'required to provision a VM, so that SSH is not open to the world: pulumi config set sshCidr "$(curl -s https://checkip.amazonaws.com)/32" (or 0.0.0.0/0 if you mean it)',
  );
}

export function missingPublicKey(): SpecError {
  return new SpecError(
    "publicKey",
    "required to provision a VM (set 'host' to use an existing host instead): pulumi config set publicKey \"$(cat ~/.ssh/id_ed25519.pub)\"",
  );
}

/**
 * A key the stack does not know is refused, naming the closest known one: a typo such as
 * `wokers: 4` would otherwise leave the default in place without a word.
 */
function checkKnownKeys(keys: string[]): void {
  const known = Object.keys(CONFIG_KEYS);
  for (const key of keys) {
    if (key in CONFIG_KEYS) continue;
    const [closest] = known
      .map((k) => [k, editDistance(key.toLowerCase(), k.toLowerCase())] as const)
      .sort((a, b) => a[1] - b[1]);
    const hint =
      closest !== undefined && closest[1] <= Math.max(2, Math.floor(key.length / 3))
        ? `; did you mean '${closest[0]}'?`
        : "";
    throw new SpecError(
      key,
      `this stack has no config key '${key}'${hint} (the keys are declared in Pulumi.yaml)`,
    );
  }
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Reads and validates the stack config. Throws {@link SpecError} naming the config key, with
 * the same message `pulumi preview` gives for the same config.
 */
export function readStackConfig(src: ConfigSource): StackSettings {
  checkKnownKeys(src.keys?.() ?? []);
  const settings: ServiceSettings = {};
  const set = settings as Record<string, unknown>;
  for (const key of STRING_SETTINGS) {
    const v = src.get(key);
    if (v !== undefined) set[key] = v;
  }
  for (const key of INT_SETTINGS) {
    const v = src.get(key);
    if (v !== undefined) set[key] = checkInt(key, v, 0, Number.MAX_SAFE_INTEGER);
  }
  // A relative appSource is relative to the project directory, where Pulumi runs the program.
  const appSource = src.get("appSource");
  if (appSource !== undefined) settings.releases = true;
  // The local machine runs systemd (no Upstart exists to install anywhere); a new VM or an
  // existing host keep the recipe's Upstart unless `init` says otherwise.
  const host = src.get("host");
  const kind = targetKind(src.get("target"), host, src.get("publicKey"));
  if (kind === "local") {
    if (settings.init === undefined) settings.init = "systemd";
    if (settings.init !== "systemd") {
      throw new SpecError(
        "init",
        `the local machine runs systemd, got ${JSON.stringify(settings.init)}: unset init, or deploy to an Upstart host (config host)`,
      );
    }
  }
  const spec = normalizeSpec(settings);
  const appEnv = parseEnvList("appEnv", parseList("appEnv", src.get("appEnv")));

  let target: Target;
  if (kind === "local") {
    target = {
      kind: "local",
      sshPort: checkInt("sshPort", src.get("sshPort") ?? "2222", 1, 65535),
    };
  } else if (kind === "host") {
    if (host === undefined) {
      throw new SpecError("host", "required with target host: pulumi config set host 203.0.113.20");
    }
    if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) {
      throw new SpecError(
        "host",
        `expected a host name or IP address, got ${JSON.stringify(host)}`,
      );
    }
    target = {
      kind: "host",
      host,
      port: checkInt("sshPort", src.get("sshPort") ?? "22", 1, 65535),
      user: src.get("sshUser") ?? "ubuntu",
    };
  } else {
    const vm: Target = { kind: "vm" };
    for (const key of ["sshUser", "instanceType", "ami", "publicKey", "subnetId"] as const) {
      const v = src.get(key);
      if (v !== undefined) vm[key] = v;
    }
    for (const key of ["allowedCidr", "sshCidr"] as const) {
      const v = src.get(key);
      if (v !== undefined) vm[key] = checkCidr(key, v);
    }
    target = vm;
  }
  const prepare = checkBoolKey("prepareHost", src.get("prepareHost"), false);
  const packages = src.get("hostPackages");
  const build = checkBoolKey("buildVirtualenv", src.get("buildVirtualenv"), false);
  const indexUrl = src.get("pipIndexUrl");
  const wheelhouse = src.get("wheelhouse");
  checkSudoFor(spec, [...(prepare ? ["prepareHost"] : []), ...(build ? ["buildVirtualenv"] : [])]);
  return {
    settings,
    spec,
    appEnv,
    target,
    ...(appSource !== undefined ? { appSource } : {}),
    ...(prepare
      ? {
          prepareHost: {
            packages:
              packages !== undefined
                ? parseStringList("hostPackages", packages)
                : [...DEFAULT_HOST_PACKAGES[spec.init]],
          },
        }
      : {}),
    ...(build
      ? {
          pythonEnv: {
            systemSitePackages: checkBoolKey(
              "systemSitePackages",
              src.get("systemSitePackages"),
              false,
            ),
            ...(indexUrl !== undefined ? { indexUrl } : {}),
            ...(wheelhouse !== undefined
              ? { wheelhouse: checkPath("wheelhouse", wheelhouse) }
              : {}),
          },
        }
      : {}),
  };
}

function checkBoolKey(key: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  if (raw === "true") return true;
  if (raw === "false") return false;
  throw new SpecError(key, `expected true or false, got ${JSON.stringify(raw)}`);
}

function parseStringList(key: string, raw: string): string[] {
  const list = parseList(key, raw);
  if (
    !Array.isArray(list) ||
    !list.every((p) => typeof p === "string" && /^[a-z0-9][a-z0-9+.-]*$/.test(p))
  ) {
    throw new SpecError(key, `expected a list of Debian package names, got ${raw}`);
  }
  return list as string[];
}

/**
 * Where the service runs: `target` when set; else an existing host when `host` is set, a new
 * EC2 instance when `publicKey` is, and the local machine when neither is.
 */
export function targetKind(
  target: string | undefined,
  host: string | undefined,
  publicKey: string | undefined,
): "local" | "host" | "ec2" {
  if (target !== undefined) {
    if (target === "local" || target === "host" || target === "ec2") return target;
    throw new SpecError("target", `expected local, host or ec2, got ${JSON.stringify(target)}`);
  }
  if (host !== undefined) return "host";
  return publicKey !== undefined ? "ec2" : "local";
}

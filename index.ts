// The stack program: reads the stack config (schema in Pulumi.yaml), runs one GunicornService
// on a new EC2 instance or on an existing host, and exports what a user or another stack needs.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { GunicornService, SpecError } from "./components";
import { missingPublicKey, missingSshCidr, readStackConfig } from "./components/stackConfig";
import { parseEnvList } from "./components/spec";

const config = new pulumi.Config();

function read() {
  try {
    const stack = readStackConfig({ get: (key) => config.get(key) });
    if (stack.target.kind === "vm" && stack.target.publicKey === undefined) {
      throw missingPublicKey();
    }
    if (stack.target.kind === "vm" && stack.target.sshCidr === undefined) throw missingSshCidr();
    return stack;
  } catch (e) {
    // The same message as `npm run render`, naming the config key.
    if (e instanceof SpecError) throw new pulumi.RunError(`config: ${e.message}`);
    throw e;
  }
}
const stack = read();

// Secret values stay Outputs end to end: they reach the host only through stdin.
const privateKey = config.requireSecret("sshPrivateKey");
const secretEnv = pulumi
  .output(config.getSecretObject<string[]>("secretEnv") ?? [])
  .apply((list) => parseEnvList("secretEnv", list));
const appEnv = pulumi.all([secretEnv]).apply(([secrets]) => ({ ...stack.appEnv, ...secrets }));

/** The app's requirements.txt, when it has one. */
function requirementsOf(appSource: string | undefined): string {
  const file = appSource === undefined ? undefined : join(appSource, "requirements.txt");
  return file !== undefined && existsSync(file) ? readFileSync(file, "utf8") : "";
}

const target = stack.target;
const service = new GunicornService("app", {
  ...stack.spec,
  appEnv,
  ...(stack.appSource !== undefined ? { appSource: stack.appSource } : {}),
  ...(stack.prepareHost !== undefined ? { prepareHost: stack.prepareHost } : {}),
  ...(stack.pythonEnv !== undefined
    ? { pythonEnv: { ...stack.pythonEnv, requirements: requirementsOf(stack.appSource) } }
    : {}),
  ...(target.kind === "host"
    ? { host: { host: target.host, port: target.port, user: target.user, privateKey } }
    : {
        vm: {
          publicKey: target.publicKey as string,
          privateKey,
          ...(target.sshUser !== undefined ? { sshUser: target.sshUser } : {}),
          ...(target.instanceType !== undefined ? { instanceType: target.instanceType } : {}),
          ...(target.ami !== undefined ? { ami: target.ami } : {}),
          ...(target.subnetId !== undefined ? { subnetId: target.subnetId } : {}),
          ...(target.allowedCidr !== undefined ? { allowedCidr: target.allowedCidr } : {}),
          sshCidr: target.sshCidr as string,
        },
      }),
});

export const publicAddress = service.publicAddress;
export const url = service.url;
export const jobName = service.jobName;
export const jobFile = service.jobFile;
export const launcherFile = service.launcherFile;
export const gunicornConfigFile = service.gunicornConfigFile;
export const status = service.status;
export const instanceId = service.vm?.instanceId;
export const releaseId = service.release?.releaseId;

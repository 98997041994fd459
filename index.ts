// The stack program: reads the stack config (schema in Pulumi.yaml), runs one GunicornService
// on a local machine (the default), a new EC2 instance or an existing host, and exports what a
// user or another stack needs.
import * as pulumi from "@pulumi/pulumi";
import { SpecError } from "./components";
import { deployStack } from "./components/stackProgram";
import { missingPublicKey, missingSshCidr, readStackConfig } from "./components/render/stackConfig";
import { parseEnvList } from "./components/render/spec";

const config = new pulumi.Config();

function read() {
  try {
    const prefix = `${pulumi.getProject()}:`;
    const stack = readStackConfig({
      get: (key) => config.get(key),
      keys: () =>
        Object.keys(pulumi.runtime.allConfig())
          .filter((k) => k.startsWith(prefix))
          .map((k) => k.slice(prefix.length)),
    });
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

// Secret values stay Outputs end to end: they reach the host only through stdin. The local
// machine makes its own key; the other targets need yours.
const privateKey = () => config.requireSecret("sshPrivateKey");
const secretEnv = pulumi
  .output(config.getSecretObject<string[]>("secretEnv") ?? [])
  .apply((list) => parseEnvList("secretEnv", list));
const appEnv = pulumi.all([secretEnv]).apply(([secrets]) => ({ ...stack.appEnv, ...secrets }));

// The machine's name is the stack's, so two stacks get two machines.
const { service } = deployStack(stack, {
  appEnv,
  privateKey,
  machineName: `${pulumi.getProject()}-${pulumi.getStack()}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-"),
});

export const publicAddress = service.publicAddress;
export const url = service.url;
// The self-signed certificate of the local default, for clients: curl --cacert <(npm run -s
// pulumi -- stack output tlsCertificate) "$(npm run -s pulumi -- stack output url)"
export const tlsCertificate = service.tlsCertificate;
export const jobName = service.jobName;
export const jobFile = service.jobFile;
export const launcherFile = service.launcherFile;
export const gunicornConfigFile = service.gunicornConfigFile;
export const status = service.status;
export const instanceId = service.vm?.instanceId;
export const releaseId = service.release?.releaseId;

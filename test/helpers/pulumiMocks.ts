// Pulumi's mock runtime for component tests: records every resource the program registers,
// with its inputs (as the engine would see them) and its options (parent, dependsOn), so tests
// can assert on the graph. No CLI, no cloud.
import * as pulumi from "@pulumi/pulumi";

export interface Recorded {
  type: string;
  name: string;
  /** Inputs as resolved by the mock monitor (secrets unwrapped). */
  inputs: Record<string, unknown>;
}

export interface Registered {
  type: string;
  name: string;
  /** The raw args the resource was constructed with (Outputs intact, for isSecret). */
  props: Record<string, unknown>;
  opts: pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions;
}

export const recorded: Recorded[] = [];
/** Every provider function call (data source), e.g. the AMI lookup. */
export const calls: { token: string; inputs: Record<string, unknown> }[] = [];
export const registered: Registered[] = [];

export const INSTANCE_IP = "203.0.113.10";

/**
 * When set (by the integration tests' replay), a command resource is handed to it as the
 * program registers it, and its outputs are what the hook returns: what ran on a host
 * feeds the inputs of what the program registers next, as with the engine.
 */
export type CommandHook = (
  args: pulumi.runtime.MockResourceArgs,
) => Promise<Record<string, unknown>>;
let commandHook: CommandHook | undefined;
export function setCommandHook(hook: CommandHook | undefined): void {
  commandHook = hook;
}
const COMMAND_TYPES = [
  "command:remote:Command",
  "command:local:Command",
  "command:remote:CopyToRemote",
];

/**
 * Installs the mock runtime. Called on import, and again by the replay before each `up`: the
 * real engine's Automation API (test/integration/engine.ts) replaces the runtime's monitor.
 */
export function useMocks(): void {
  void pulumi.runtime.setMocks(mocks, "gunicorn-upstart", "test", false);
}

const mocks: pulumi.runtime.Mocks = {
  newResource(args: pulumi.runtime.MockResourceArgs) {
    recorded.push({
      type: args.type,
      name: args.name,
      inputs: args.inputs as Record<string, unknown>,
    });
    if (commandHook !== undefined && COMMAND_TYPES.includes(args.type)) {
      const hook = commandHook;
      return hook(args).then((outputs) => ({
        id: `${args.name}-id`,
        state: { ...args.inputs, ...outputs },
      }));
    }
    const state: Record<string, unknown> = { ...args.inputs };
    if (args.type === "aws:ec2/instance:Instance") {
      state.publicIp = INSTANCE_IP;
      state.publicDns = "ec2-203-0-113-10.compute.amazonaws.com";
    }
    if (args.type === "aws:ec2/keyPair:KeyPair") state.keyName = `${args.name}-key`;
    if (args.type === "command:local:Command") {
      // A LocalMachine's command prints its connection; a fleet's steps print nothing here.
      state.stdout = args.name.endsWith("-machine")
        ? `${JSON.stringify({ host: "127.0.0.1", port: 2222, user: "deploy", privateKey: "MACHINE-KEY" })}\n`
        : "";
      state.stderr = "";
    }
    if (args.type === "command:remote:Command") {
      state.stdout = "gunicorn-upstart: django-project: start (master pid 4242)\n";
      state.stderr = "";
    }
    return { id: `${args.name}-id`, state };
  },
  call(args: pulumi.runtime.MockCallArgs) {
    calls.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
    if (args.token === "aws:ec2/getAmiIds:getAmiIds") {
      // An owner with no images stands for a region where nothing matches.
      const none = (args.inputs.owners as string[]).includes("000000000000");
      return { ids: none ? [] : ["ami-0trusty1404", "ami-0older"] };
    }
    if (args.token === "aws:ec2/getAmi:getAmi") {
      return {
        id: "ami-0trusty1404",
        name: "ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-20191107",
      };
    }
    if (args.token === "aws:ec2/getSubnet:getSubnet")
      return { id: args.inputs.id, vpcId: "vpc-0abc" };
    if (args.token === "aws:ec2/getVpc:getVpc")
      return { id: args.inputs.id, cidrBlock: "10.20.0.0/16" };
    if (args.token === "aws:index/getRegion:getRegion") return { region: "eu-west-1" };
    return args.inputs;
  },
};
useMocks();

/** A transformation that records every resource's args and options; pass it to the top component. */
export const recorder: pulumi.ResourceTransformation = (args) => {
  registered.push({
    type: args.type,
    name: args.name,
    props: args.props as Record<string, unknown>,
    opts: args.opts as Registered["opts"],
  });
  return undefined;
};

/** Forgets what earlier evaluations recorded. */
export function reset(): void {
  recorded.length = 0;
  registered.length = 0;
  calls.length = 0;
}

/** The value of an Output (rejects when the Output does). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return (output as unknown as { promise(): Promise<T> }).promise();
}

/** Waits until every resource registered so far has been seen by the mock monitor. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
}

/** Recorded inputs keyed by resource name, in name order: registration order is not stable. */
export function inputsByName(): Map<string, string> {
  return new Map(
    [...recorded]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((r) => [r.name, JSON.stringify(r.inputs)] as const),
  );
}

/**
 * The names of a resource's `dependsOn`, resolved: an entry may be a resource, or an Output or
 * Promise of one (a fleet hands its drains to the services that way).
 */
export async function dependencyNames(r: Registered): Promise<string[]> {
  const raw = (r.opts.dependsOn ?? []) as unknown;
  const list = (Array.isArray(raw) ? raw : [raw]) as unknown[];
  const names: string[] = [];
  for (const entry of list) {
    const resolved = pulumi.Output.isInstance(entry)
      ? await (entry as unknown as { promise(): Promise<unknown> }).promise()
      : await entry;
    names.push((resolved as { __name: string }).__name);
  }
  return names;
}

/** The name of a resource's parent, from its recorded options. */
export function parentName(r: Registered): string | undefined {
  const parent = r.opts.parent as unknown as { __name?: string } | undefined;
  return parent?.__name;
}

// A lifecycle replay: does with the component's `remote.Command` resources what Pulumi and
// `@pulumi/command` (1.x) would do, against a test host, running the component's own command
// strings unchanged over real SSH with the same stdin; `local.Command` resources (a fleet's
// drain and register steps) run here with `/bin/sh -c` and their `environment`.
//
// Rules followed (from the provider's SDK code and documentation, and its issue tracker):
// - First `up`: `create` runs, with `stdin` on standard input, in dependency order.
// - Later `up`: a resource whose inputs are unchanged runs nothing.
// - A change in `triggers` replaces the resource: the SDK registers every Command with
//   `replaceOnChanges: ["triggers[*]"]` (node_modules/@pulumi/command/remote/command.js;
//   pulumi/pulumi-command#855). A replacement creates the new resource first and deletes the
//   old one at the end of the update, unless `deleteBeforeReplace` is set: then the old one's
//   `delete` runs first (pulumi/pulumi-command#17).
// - Any other input change (create, update, delete, stdin, connection) is an in-place update:
//   `update` runs if set, else `create` ("If an `update` command isn't provided, then `create`
//   will also be run when the resource's inputs are modified"; a connection diff shows as an
//   update of a Command in pulumi/pulumi-command#447).
// - `destroy` (or a resource gone from the program) runs the *stored* `delete` command, in
//   reverse dependency order: dependents first.
// - A failed command fails the `up`: its resource keeps its previous state, nothing after it runs.
// Not replayed: PULUMI_COMMAND_STDOUT/STDERR in the environment (sshd would need AcceptEnv;
// the component does not use them).
import { spawnSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import {
  dependencyNames,
  recorded,
  recorder,
  registered,
  reset,
  settle,
} from "../helpers/pulumiMocks";
import { SSH_OPTIONS, type TestHost } from "./testHost";
import { unwrapSecret } from "../helpers/secrets";

interface CommandState {
  name: string;
  /** remote.Command (over SSH to the test host) or local.Command (here, with `environment`). */
  kind: "remote" | "local";
  environment: Record<string, string>;
  create: string;
  update?: string;
  delete?: string;
  stdin: string;
  triggers: unknown[];
  connection: Record<string, unknown>;
  dependsOn: string[];
  deleteBeforeReplace: boolean;
}

/** One remote command the replay ran. */
export interface Ran {
  name: string;
  op: "create" | "update" | "delete";
  stdout: string;
  stderr: string;
}

export class UpFailed extends Error {
  constructor(
    public readonly resource: string,
    public readonly op: string,
    public readonly stderr: string,
  ) {
    super(`${resource}: ${op} failed:\n${stderr}`);
  }
}

const COMMAND_TYPES = ["command:remote:Command", "command:local:Command"];

/** The child resource names under a resource (components stand for all their commands). */
function commandsUnder(name: string): string[] {
  const direct = registered.filter(
    (r) => (r.opts.parent as unknown as { __name?: string })?.__name === name,
  );
  const self = registered.find((r) => r.name === name);
  const own = self !== undefined && COMMAND_TYPES.includes(self.type) ? [name] : [];
  return [...own, ...direct.flatMap((r) => commandsUnder(r.name))];
}

/** Evaluates a program under the mocks and returns its remote commands, in dependency order. */
async function evaluate(program: () => pulumi.Output<unknown>[]): Promise<CommandState[]> {
  await settle();
  reset();
  await Promise.all(
    program().map((o) => (o as unknown as { promise(): Promise<unknown> }).promise()),
  );
  await settle();
  const commands: CommandState[] = [];
  for (const r of registered.filter((x) => COMMAND_TYPES.includes(x.type))) {
    const inputs = recorded.find((x) => x.name === r.name)?.inputs;
    if (!inputs) throw new Error(`${r.name} was not registered with the mock monitor`);
    const deps = (await dependencyNames(r)).flatMap((d) => commandsUnder(d));
    commands.push({
      name: r.name,
      kind: r.type === "command:local:Command" ? "local" : "remote",
      environment: (unwrapSecret(inputs.environment) ?? {}) as Record<string, string>,
      create: String(inputs.create),
      ...(inputs.update !== undefined ? { update: String(inputs.update) } : {}),
      ...(inputs.delete !== undefined ? { delete: String(inputs.delete) } : {}),
      stdin: String(unwrapSecret(inputs.stdin) ?? ""),
      triggers: (inputs.triggers as unknown[]) ?? [],
      connection: (unwrapSecret(inputs.connection) ?? {}) as Record<string, unknown>,
      dependsOn: deps,
      deleteBeforeReplace: r.opts.deleteBeforeReplace === true,
    });
  }
  // Topological order, stable in registration order.
  const ordered: CommandState[] = [];
  const placed = new Set<string>();
  while (ordered.length < commands.length) {
    const next = commands.find(
      (c) => !placed.has(c.name) && c.dependsOn.every((d) => placed.has(d)),
    );
    if (!next) throw new Error("dependency cycle");
    ordered.push(next);
    placed.add(next.name);
  }
  return ordered;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The engine's view of one stack: the state of every command resource after each `up`. */
export class Replay {
  private state = new Map<string, CommandState>();
  private order: string[] = [];

  constructor(private readonly host: TestHost) {}

  /** Set by `up(..., { interrupt })`: that resource's SSH client is killed after `afterMs`. */
  private interrupt: { resource: string; afterMs: number } | undefined;

  private run(c: CommandState, op: Ran["op"], command: string, stdin: string): Ran {
    if (c.kind === "local") {
      // local.Command runs its command with `/bin/sh -c` where `pulumi up` runs, with its
      // `environment` added to the process's own.
      const r = spawnSync("/bin/sh", ["-c", command], {
        input: stdin,
        encoding: "utf8",
        env: { ...process.env, ...c.environment },
        timeout: 300_000,
        maxBuffer: 64 << 20,
      });
      if (r.status !== 0)
        throw new UpFailed(
          c.name,
          op,
          `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`,
        );
      return { name: c.name, op, stdout: r.stdout, stderr: r.stderr };
    }
    const conn = c.connection;
    if (
      conn.host !== "127.0.0.1" ||
      Number(conn.port) !== this.host.port ||
      conn.user !== this.host.user
    ) {
      throw new Error(
        `${c.name}: connection ${JSON.stringify({ ...conn, privateKey: "..." })} is not the test host`,
      );
    }
    if (conn.privateKey !== this.host.privateKey)
      throw new Error(`${c.name}: unexpected private key`);
    const r = spawnSync(
      "ssh",
      [
        "-i",
        this.host.keyFile,
        "-p",
        String(conn.port),
        ...SSH_OPTIONS,
        "-T",
        `${String(conn.user)}@${String(conn.host)}`,
        command,
      ],
      {
        input: stdin,
        encoding: "utf8",
        timeout: this.interrupt?.resource === c.name ? this.interrupt.afterMs : 300_000,
        killSignal: "SIGKILL",
        maxBuffer: 64 << 20,
      },
    );
    if (r.status !== 0)
      throw new UpFailed(c.name, op, `${r.stderr ?? ""}${r.error ? String(r.error) : ""}`);
    return { name: c.name, op, stdout: r.stdout, stderr: r.stderr };
  }

  /** `pulumi up` of the program: returns the commands that ran, in order. */
  async up(
    program: () => pulumi.Output<unknown>[],
    options: { interrupt?: { resource: string; afterMs: number } } = {},
  ): Promise<Ran[]> {
    this.interrupt = options.interrupt;
    try {
      return await this.upOnce(program);
    } finally {
      this.interrupt = undefined;
    }
  }

  private async upOnce(program: () => pulumi.Output<unknown>[]): Promise<Ran[]> {
    const desired = await evaluate(program);
    const ran: Ran[] = [];
    const deleteAtEnd: CommandState[] = [];
    const created = (name: string) => {
      // What was created stays in the state even when a later step fails, as with Pulumi.
      if (!this.order.includes(name)) this.order.push(name);
    };
    for (const c of desired) {
      const old = this.state.get(c.name);
      if (old === undefined) {
        ran.push(this.run(c, "create", c.create, c.stdin));
        created(c.name);
      } else if (!same(old.triggers, c.triggers)) {
        if (c.deleteBeforeReplace) {
          if (old.delete !== undefined) ran.push(this.run(old, "delete", old.delete, ""));
          this.state.delete(c.name);
          ran.push(this.run(c, "create", c.create, c.stdin));
        } else {
          ran.push(this.run(c, "create", c.create, c.stdin));
          deleteAtEnd.push(old);
        }
      } else if (!same({ ...old, dependsOn: [] }, { ...c, dependsOn: [] })) {
        ran.push(this.run(c, "update", c.update ?? c.create, c.stdin));
      }
      this.state.set(c.name, c);
    }
    const gone = [...this.order].reverse().filter((n) => !desired.some((c) => c.name === n));
    for (const name of gone) {
      const old = this.state.get(name)!;
      if (old.delete !== undefined) ran.push(this.run(old, "delete", old.delete, ""));
      this.state.delete(name);
      this.order = this.order.filter((n) => n !== name);
    }
    for (const old of deleteAtEnd.reverse()) {
      if (old.delete !== undefined) ran.push(this.run(old, "delete", old.delete, ""));
    }
    return ran;
  }

  /** Runs a resource's stored update (or create) command again, as is: for idempotence checks. */
  rerun(name: string): Ran {
    const c = this.state.get(name);
    if (c === undefined) throw new Error(`${name} is not in the state`);
    return this.run(c, "update", c.update ?? c.create, c.stdin);
  }

  /** `pulumi destroy`: every stored `delete`, dependents first. */
  destroy(): Ran[] {
    const ran: Ran[] = [];
    for (const name of [...this.order].reverse()) {
      const old = this.state.get(name)!;
      if (old.delete !== undefined) ran.push(this.run(old, "delete", old.delete, ""));
      this.state.delete(name);
    }
    this.order = [];
    return ran;
  }
}

export { recorder };

// A lifecycle replay: does with the component's `remote.Command` resources what Pulumi and
// `@pulumi/command` (1.2) would do, against a test host, running the component's own command
// strings unchanged over real SSH with the same stdin; `local.Command` resources (a fleet's
// drain and register steps, a LocalMachine) run here with their `interpreter` (default
// `/bin/sh -c`) and their `environment`; `remote.CopyToRemote` resources (a release's archive)
// copy their file asset over SFTP as the connection's user.
//
// It stands in for the real engine only where the command provider cannot be had (no
// registry here serves it: see scripts/toolchain.sh and the README): the suites get it from
// lifecycleEngine() in ./engine.ts, which picks the real engine wherever the provider is
// installed, and parity.test.ts checks this model against the real engine there.
//
// Rules followed (from the provider's SDK code and documentation, its issue tracker, and a
// review of its source):
// - Each command runs when the program registers it (the mock monitor hands it here), so
//   its real stdout feeds whatever the program registers next, and commands that do not
//   depend on each other run at the same time, as the engine runs them.
// - First `up`: `create` runs, with `stdin` on standard input.
// - Later `up`: a resource whose inputs are unchanged runs nothing; its outputs are the stored ones.
// - A change in `triggers` replaces the resource: the SDK registers every Command with
//   `replaceOnChanges: ["triggers[*]"]` (node_modules/@pulumi/command/remote/command.js;
//   pulumi/pulumi-command#855). A replacement creates the new resource first and deletes the
//   old one at the end of the update, unless `deleteBeforeReplace` is set: then the old one's
//   `delete` runs first (pulumi/pulumi-command#17).
// - Any other input change (create, update, delete, stdin, connection) is an in-place update:
//   `update` runs if set, else `create`. A connection change is an update too, run only
//   against the new host (pulumi/pulumi-command#447).
// - A failed command fails the `up`: a failed update keeps the resource's previous inputs and
//   outputs in the state; a failed create leaves nothing in the state; nothing that depends
//   on it runs; what already runs finishes.
// - `delete` (destroy, or a resource gone from the program, dependents first) runs the
//   *stored* delete command with the *stored* stdin on standard input, as the provider does.
// - The provider's SSH session fails with EOF when the command exits leaving stdin unread
//   beyond one channel window (2 MiB in golang.org/x/crypto/ssh); modelled here by counting
//   what the command left unread.
// - A command that fails is reported as the provider words it (remote/commandOutputs.go,
//   local/commandOutputs.go): `<exit status>: running <the command, Go-quoted>:` and then all
//   it printed, stdout and stderr as they came (here: in the order this process read them).
// - A CopyToRemote copies its file on create (SFTP, creating the remote path's parents); a
//   change in `triggers` replaces it (created again: the provider marks them replaceOnChanges);
//   any other change is an update that copies again only when the asset's hash or the remote
//   path changed (provider/pkg/provider/remote/copyController.go). Assets compare by their hash,
//   not their local path (the engine's Asset.Equals). It has no delete.
// Not replayed: PULUMI_COMMAND_STDOUT/STDERR in the environment (the component turns them
// off with addPreviousOutputInEnv: false, asserted under mocks).
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { recorder, registered, reset, setCommandHook, settle } from "../helpers/pulumiMocks";
import { SSH_OPTIONS, type TestHost } from "./testHost";
import { unwrapSecret } from "../helpers/secrets";

/** One SSH channel window of golang.org/x/crypto/ssh, the provider's SSH client. */
const CHANNEL_WINDOW = 2 << 20;

interface CommandState {
  name: string;
  /**
   * remote.Command (over SSH to the test host), local.Command (here, with `environment`) or
   * remote.CopyToRemote (`copy`).
   */
  kind: "remote" | "local" | "copy";
  /** A CopyToRemote's asset (its hash, the sha256 of the file, is what the engine compares). */
  copy?: { hash: string; remotePath: string; localPath: string };
  environment: Record<string, string>;
  /** local.Command's `interpreter`, default `/bin/sh -c`. */
  interpreter: string[];
  create: string;
  update?: string;
  delete?: string;
  stdin: string;
  triggers: unknown[];
  connection: Record<string, unknown>;
  deleteBeforeReplace: boolean;
}

interface Stored {
  inputs: CommandState;
  stdout: string;
  stderr: string;
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
    /** The failure's message as the engine reports it: the command provider's error. */
    public readonly stderr: string,
  ) {
    super(`${resource}: ${op} failed:\n${stderr}`);
  }
}

/**
 * The provider's error for a command that exited with `status` (`fmt.Errorf("%w: running
 * %q:\n%s", err, cmd, stdout+stderr)`; %q approximated by a JSON string).
 */
function providerError(status: number | null, command: string, output: string): string {
  const exit =
    status === null ? "Process exited without exit status" : `Process exited with status ${status}`;
  return `${exit}: running ${JSON.stringify(command)}:\n${output}`;
}

/** The inputs of a command resource as the engine stores them. */
async function commandState(args: pulumi.runtime.MockResourceArgs): Promise<CommandState> {
  const inputs = args.inputs as Record<string, unknown>;
  const opts = registered.find((r) => r.name === args.name)?.opts;
  let copy: CommandState["copy"];
  if (args.type === "command:remote:CopyToRemote") {
    const localPath = await (inputs.source as { path: Promise<string> }).path;
    const hash = createHash("sha256").update(readFileSync(localPath)).digest("hex");
    copy = { hash, remotePath: String(inputs.remotePath), localPath };
  }
  return {
    name: args.name,
    kind:
      args.type === "command:local:Command"
        ? "local"
        : args.type === "command:remote:CopyToRemote"
          ? "copy"
          : "remote",
    ...(copy !== undefined ? { copy } : {}),
    environment: (unwrapSecret(inputs.environment) ?? {}) as Record<string, string>,
    interpreter: (inputs.interpreter as string[] | undefined) ?? ["/bin/sh", "-c"],
    create: String(inputs.create),
    ...(inputs.update !== undefined ? { update: String(inputs.update) } : {}),
    ...(inputs.delete !== undefined ? { delete: String(inputs.delete) } : {}),
    stdin: String(unwrapSecret(inputs.stdin) ?? ""),
    triggers: (inputs.triggers as unknown[]) ?? [],
    connection: (unwrapSecret(inputs.connection) ?? {}) as Record<string, unknown>,
    deleteBeforeReplace: opts?.deleteBeforeReplace === true,
  };
}

/** Equal as the engine sees them: a file asset by its hash, not where the file is. */
const same = (a: unknown, b: unknown) => {
  const key = (k: string, v: unknown) => (k === "localPath" ? undefined : v);
  return JSON.stringify(a, key) === JSON.stringify(b, key);
};

/**
 * Runs the command in the remote user's login shell, then counts what it left of stdin: the
 * count comes back on the last line of stderr, and the command's own status is kept.
 */
function withUnreadCount(command: string): string {
  return `(${command}\n); status=$?; printf '\\nreplay-unread-stdin %s\\n' "$(wc -c)" >&2; exit $status`;
}

function splitUnread(stderr: string): { stderr: string; unread: number } {
  const m = /\nreplay-unread-stdin (\d+)\n$/.exec(stderr);
  return m === null
    ? { stderr, unread: 0 }
    : { stderr: stderr.slice(0, m.index), unread: Number(m[1]) };
}

/** The engine's view of one stack: the state of every command resource after each `up`. */
export class Replay {
  /** Hosts other than the one the replay was made for, by `host:port` (a service move). */
  private readonly hosts = new Map<string, TestHost>();
  private state = new Map<string, Stored>();
  private order: string[] = [];

  /** `host`: the test host the program's connections name (none when it makes its own). */
  constructor(host?: TestHost) {
    if (host !== undefined) this.addHost(host);
  }

  /** Lets the program's connections reach another test host too. */
  addHost(host: TestHost): void {
    this.hosts.set(`127.0.0.1:${host.port}`, host);
  }

  /** Set by `up(..., { interrupt })`: that resource's SSH client is killed after `afterMs`. */
  private interrupt: { resource: string; afterMs: number } | undefined;

  /** Key files for connections to machines the program made itself (a LocalMachine). */
  private readonly keyFiles = new Map<string, string>();

  private hostOf(
    c: CommandState,
  ): Pick<TestHost, "port" | "user" | "keyFile" | "privateKey"> & { sshOptions: string[] } {
    const conn = c.connection;
    const address = `${String(conn.host)}:${String(conn.port)}`;
    const host = this.hosts.get(address);
    if (host === undefined && conn.host === "127.0.0.1" && typeof conn.privateKey === "string") {
      // A machine the program created (its connection is an output): reach it with its key.
      let keyFile = this.keyFiles.get(conn.privateKey);
      if (keyFile === undefined) {
        keyFile = join(mkdtempSync(join(tmpdir(), "replay-key-")), "key");
        writeFileSync(keyFile, conn.privateKey, { mode: 0o600 });
        this.keyFiles.set(conn.privateKey, keyFile);
      }
      // Its host key pinned, as the provider pins the connection's hostKey.
      let sshOptions = SSH_OPTIONS;
      if (typeof conn.hostKey === "string") {
        const knownHosts = `${keyFile}.known_hosts`;
        writeFileSync(knownHosts, `[127.0.0.1]:${String(conn.port)} ${conn.hostKey}\n`);
        sshOptions = SSH_OPTIONS.map((o) =>
          o === "StrictHostKeyChecking=no"
            ? "StrictHostKeyChecking=yes"
            : o === "UserKnownHostsFile=/dev/null"
              ? `UserKnownHostsFile=${knownHosts}`
              : o,
        );
      }
      return {
        port: Number(conn.port),
        user: String(conn.user),
        keyFile,
        privateKey: conn.privateKey,
        sshOptions,
      };
    }
    if (host === undefined || conn.user !== host.user) {
      throw new Error(
        `${c.name}: connection ${JSON.stringify({ ...conn, privateKey: "..." })} is not a test host`,
      );
    }
    if (conn.privateKey !== host.privateKey) throw new Error(`${c.name}: unexpected private key`);
    return { ...host, sshOptions: SSH_OPTIONS };
  }

  /** The process that runs one operation: `/bin/sh -c` here, or `ssh` to the test host. */
  private argv(c: CommandState, command: string): { file: string; args: string[] } {
    if (c.kind === "local") {
      const [file, ...args] = c.interpreter;
      return { file: file!, args: [...args, command] };
    }
    const host = this.hostOf(c);
    return {
      file: "ssh",
      args: [
        "-i",
        host.keyFile,
        "-p",
        String(host.port),
        ...host.sshOptions,
        "-T",
        `${host.user}@127.0.0.1`,
        withUnreadCount(command),
      ],
    };
  }

  private finish(
    c: CommandState,
    op: Ran["op"],
    command: string,
    status: number | null,
    stdout: string,
    rawStderr: string,
    output: string,
    error?: Error,
  ): Ran {
    const { stderr, unread } =
      c.kind === "remote" ? splitUnread(rawStderr) : { stderr: rawStderr, unread: 0 };
    if (status !== 0)
      throw new UpFailed(
        c.name,
        op,
        `${providerError(status, command, c.kind === "remote" ? splitUnread(output).stderr : output)}${error ? String(error) : ""}`,
      );
    if (unread > CHANNEL_WINDOW)
      throw new UpFailed(
        c.name,
        op,
        `EOF: the command exited leaving ${unread} bytes of its stdin unread (the provider's SSH session fails)`,
      );
    return { name: c.name, op, stdout, stderr };
  }

  /** Runs one operation without blocking the event loop: the program goes on registering. */
  private run(c: CommandState, op: Ran["op"], command: string, stdin: string): Promise<Ran> {
    const { file, args } = this.argv(c, command);
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, {
        env: c.kind === "local" ? { ...process.env, ...c.environment } : process.env,
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      let output = ""; // both, as they come: what the provider's error holds
      child.stdout.setEncoding("utf8").on("data", (d: string) => ((stdout += d), (output += d)));
      child.stderr.setEncoding("utf8").on("data", (d: string) => ((stderr += d), (output += d)));
      child.stdin.on("error", () => undefined); // EPIPE: judged by the unread count
      const interrupted = this.interrupt?.resource === c.name;
      if (interrupted) {
        // A cut connection, made certain: stdin goes at 64 KiB per 10 ms (a slow link), so
        // a payload of a few MB is still in flight when the client is killed, however fast
        // this machine is (sent at once, 3 MB sometimes arrived within the 300 ms).
        const data = Buffer.from(stdin);
        let at = 0;
        const feed = setInterval(() => {
          if (at >= data.length || child.exitCode !== null || child.signalCode !== null) {
            clearInterval(feed);
            if (at >= data.length) child.stdin.end();
            return;
          }
          child.stdin.write(data.subarray(at, at + 65536));
          at += 65536;
        }, 10);
      } else {
        child.stdin.end(stdin);
      }
      const limit = interrupted ? this.interrupt!.afterMs : 300_000;
      const timer = setTimeout(() => child.kill("SIGKILL"), limit);
      child.on("close", (status) => {
        clearTimeout(timer);
        try {
          resolve(this.finish(c, op, command, status, stdout, stderr, output));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** Like {@link run}, blocking: for destroy and reruns, where nothing else goes on. */
  private runSync(c: CommandState, op: Ran["op"], command: string, stdin: string): Ran {
    const { file, args } = this.argv(c, command);
    const r = spawnSync(file, args, {
      input: stdin,
      encoding: "utf8",
      env: c.kind === "local" ? { ...process.env, ...c.environment } : process.env,
      timeout: 300_000,
      killSignal: "SIGKILL",
      maxBuffer: 64 << 20,
    });
    const [stdout, stderr] = [r.stdout ?? "", r.stderr ?? ""];
    return this.finish(c, op, command, r.status, stdout, stderr, stdout + stderr, r.error);
  }

  /** A CopyToRemote's copy: its file over SFTP, as the connection's user, parents made. */
  private copyFile(c: CommandState, op: Ran["op"]): Promise<Ran> {
    const host = this.hostOf(c);
    const { remotePath, localPath } = c.copy!;
    const quoted = (p: string) => `"${p.replace(/["\\]/g, "\\$&")}"`;
    const parents = remotePath
      .split("/")
      .slice(0, -1)
      .map((_, i, parts) => `-mkdir ${quoted(parts.slice(0, i + 1).join("/"))}`);
    const batch = [...parents, `put ${quoted(localPath)} ${quoted(remotePath)}`, ""].join("\n");
    return new Promise((resolve, reject) => {
      const child = spawn(
        "sftp",
        [
          "-b",
          "-",
          "-i",
          host.keyFile,
          "-P",
          String(host.port),
          ...host.sshOptions,
          `${host.user}@127.0.0.1`,
        ],
        { stdio: ["pipe", "pipe", "pipe"] },
      );
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.stdout.resume();
      child.stdin.end(batch);
      child.on("close", (status) =>
        status === 0
          ? resolve({ name: c.name, op, stdout: "", stderr: "" })
          : reject(new UpFailed(c.name, op, `sftp: ${stderr}`)),
      );
    });
  }

  /** `pulumi up` of the program: returns the commands that ran, in the order they started. */
  async up(
    program: () => pulumi.Output<unknown>[],
    options: { interrupt?: { resource: string; afterMs: number } } = {},
  ): Promise<Ran[]> {
    this.interrupt = options.interrupt;
    const ran: Ran[] = [];
    const desired = new Set<string>();
    const deleteAtEnd: Stored[] = [];
    let running = 0;
    const held: ((outputs: Record<string, unknown>) => void)[] = [];
    let failure: UpFailed | Error | undefined;
    let signalFailure = () => undefined as void;
    const failed = new Promise<void>((resolve) => (signalFailure = resolve));

    // One registration: what the engine would do with this resource, then its outputs.
    const step = async (pending: Promise<CommandState>): Promise<Record<string, unknown>> => {
      const c = await pending;
      desired.add(c.name);
      const old = this.state.get(c.name);
      const started = (op: Ran["op"]) => {
        const entry: Ran = { name: c.name, op, stdout: "", stderr: "" };
        ran.push(entry);
        return (r: Ran) => Object.assign(entry, r);
      };
      const keep = (r: Ran) => {
        this.state.set(c.name, { inputs: c, stdout: r.stdout, stderr: r.stderr });
        if (!this.order.includes(c.name)) this.order.push(c.name);
        return { stdout: r.stdout, stderr: r.stderr };
      };
      if (c.kind === "copy") {
        if (old === undefined || !same(old.inputs.triggers, c.triggers)) {
          return keep(started("create")(await this.copyFile(c, "create")));
        }
        if (same(old.inputs, c)) return { stdout: old.stdout, stderr: old.stderr };
        const op = started("update");
        const nothing: Ran = { name: c.name, op: "update", stdout: "", stderr: "" };
        return keep(op(same(old.inputs.copy, c.copy) ? nothing : await this.copyFile(c, "update")));
      }
      if (old === undefined) {
        return keep(started("create")(await this.run(c, "create", c.create, c.stdin)));
      }
      if (!same(old.inputs.triggers, c.triggers)) {
        if (c.deleteBeforeReplace) {
          const d = old.inputs.delete;
          if (d !== undefined)
            started("delete")(await this.run(old.inputs, "delete", d, old.inputs.stdin));
          this.state.delete(c.name);
          this.order = this.order.filter((n) => n !== c.name);
        } else {
          deleteAtEnd.push(old);
        }
        return keep(started("create")(await this.run(c, "create", c.create, c.stdin)));
      }
      if (!same(old.inputs, c)) {
        const op = started("update");
        return keep(op(await this.run(c, "update", c.update ?? c.create, c.stdin)));
      }
      return { stdout: old.stdout, stderr: old.stderr };
    };

    setCommandHook((args) => {
      running++;
      return step(commandState(args)).then(
        (outputs) => {
          running--;
          return outputs;
        },
        (e: unknown) => {
          running--;
          failure ??= e as Error;
          signalFailure();
          // Like the engine, nothing that depends on a failed resource goes ahead: its
          // outputs wait until this `up` is over (see finally).
          return new Promise<Record<string, unknown>>((resolve) => held.push(resolve));
        },
      );
    });
    try {
      await settle();
      reset();
      const outputs = program().map((o) =>
        (o as unknown as { promise(): Promise<unknown> }).promise(),
      );
      await Promise.race([Promise.allSettled(outputs), failed]);
      // Wait until nothing runs and nothing more gets registered.
      for (let idle = 0; idle < 3;) {
        await settle();
        idle = running === 0 ? idle + 1 : 0;
        if (running > 0) await new Promise((r) => setTimeout(r, 50));
      }
      if (failure !== undefined) throw failure;
      await Promise.all(outputs);
      const gone = [...this.order].reverse().filter((n) => !desired.has(n));
      for (const name of gone) {
        const old = this.state.get(name)!;
        if (old.inputs.delete !== undefined)
          ran.push(this.runSync(old.inputs, "delete", old.inputs.delete, old.inputs.stdin));
        this.state.delete(name);
        this.order = this.order.filter((n) => n !== name);
      }
      for (const old of deleteAtEnd.reverse()) {
        if (old.inputs.delete !== undefined)
          ran.push(this.runSync(old.inputs, "delete", old.inputs.delete, old.inputs.stdin));
      }
      return ran;
    } finally {
      // The `up` is over: what still waits on a failed resource may go on registering, but
      // nothing runs any more (the SDK reports promises left pending at exit as leaks).
      const nothing = { stdout: "", stderr: "" };
      setCommandHook(() => Promise.resolve(nothing));
      for (const release of held) release(nothing);
      for (let i = 0; i < 5; i++) await settle();
      setCommandHook(undefined);
      this.interrupt = undefined;
    }
  }

  /** Runs a resource's stored update (or create) command again, as is: for idempotence checks. */
  rerun(name: string): Ran {
    const c = this.state.get(name)?.inputs;
    if (c === undefined) throw new Error(`${name} is not in the state`);
    return this.runSync(c, "update", c.update ?? c.create, c.stdin);
  }

  /** `pulumi destroy`: every stored `delete` with its stored stdin, dependents first. */
  destroy(): Ran[] {
    const ran: Ran[] = [];
    for (const name of [...this.order].reverse()) {
      const old = this.state.get(name)!.inputs;
      if (old.delete !== undefined) ran.push(this.runSync(old, "delete", old.delete, old.stdin));
      this.state.delete(name);
    }
    this.order = [];
    return ran;
  }
}

export { recorder };

/**
 * `op name` of each command that ran, with the steps between two lifecycle steps sorted:
 * the engine runs a service's file writes and upload at the same time (on destroy, their
 * deletes), so tests state what ran and what came before the lifecycle, not an order the
 * engine does not promise.
 */
export function phases(ran: Ran[]): string[] {
  const out: string[] = [];
  let segment: string[] = [];
  for (const r of ran) {
    const op = `${r.op} ${r.name}`;
    if (/-service-lifecycle$/.test(r.name)) {
      out.push(...segment.sort(), op);
      segment = [];
    } else {
      segment.push(op);
    }
  }
  return [...out, ...segment.sort()];
}

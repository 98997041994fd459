// The lifecycle harness: one interface, two engines. Every integration suite drives its
// scenarios through `lifecycleEngine(host)`:
// - the real engine, wherever the command provider (pulumi-resource-command 1.2.1) is
//   installed: the Automation API (LocalWorkspace, an inline program run in this process, a
//   file backend in a temp dir), the real Pulumi CLI and the real provider over real SSH to
//   the test hosts — real `up`, `preview` and `destroy`;
// - the replay (./replay.ts) elsewhere, a model of the provider's rules that runs the same
//   command strings over SSH; a fresh machine cannot get the provider (no registry here
//   serves it), so the suites still run there.
// Both answer with the commands that ran, per resource and operation, and fail an `up` with
// UpFailed naming the resource; assertions are the same on both. The run's first line says
// which engine runs and why.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import {
  LocalWorkspace,
  PulumiCommand,
  type EngineEvent,
  type OpType,
  type Stack,
} from "@pulumi/pulumi/automation";
import { reset, useMocks } from "../helpers/pulumiMocks";
import { Replay, UpFailed, type Ran } from "./replay";
import type { TestHost } from "./testHost";

const ROOT = resolve(__dirname, "../..");

/** What an integration suite needs of an engine. */
/**
 * Cuts the SSH session of one resource's command mid-way: the replay kills its ssh client
 * `afterMs` after the command starts; the real engine, whose SSH client is inside the
 * provider, has the host kill the connection user's sessions — at `afterMs`, or as soon as
 * `whenOnHost` (a bash condition, run as root on the host) holds, for a step too quick to
 * cut by time (the provider sends a 3 MB stdin in well under 300 ms).
 */
export interface Interrupt {
  resource: string;
  afterMs: number;
  whenOnHost?: string;
}

export interface LifecycleEngine {
  /** "real" (Pulumi CLI + command provider) or "replay" (the model in replay.ts). */
  readonly kind: "real" | "replay";
  /** `pulumi up` of the program: the commands that ran, in the order they started. */
  up(program: () => pulumi.Output<unknown>[], options?: { interrupt?: Interrupt }): Promise<Ran[]>;
  /** `pulumi destroy`: every stored delete command that ran, dependents first. */
  destroy(): Promise<Ran[]>;
  /** Runs a resource's stored update (or create) command again, as is (idempotence checks). */
  rerun(name: string): Promise<Ran>;
  /** Lets the program's connections reach another test host too. */
  addHost(host: TestHost): void;
}

/** Which engine this run has, and why: decided once, said once. */
export interface EngineChoice {
  kind: "real" | "replay";
  reason: string;
  /** The directories to put first on PATH for the real CLI (empty for the replay). */
  path: string;
  pulumiHome: string;
}

let choice: EngineChoice | undefined;

/**
 * The real engine where `scripts/toolchain.sh` finds everything (the CLI, the Node.js
 * language host and the command provider 1.2.1: status 0); the replay where the provider is
 * missing (status 3). LIFECYCLE_ENGINE=replay forces the replay (the parity test uses both).
 */
export function engineChoice(): EngineChoice {
  if (choice !== undefined) return choice;
  const cache =
    process.env.GUNICORN_UPSTART_CACHE ??
    join(
      process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/root", ".cache"),
      "gunicorn-upstart",
    );
  const pulumiHome = process.env.PULUMI_HOME ?? join(cache, "pulumi-home");
  const forced = process.env.LIFECYCLE_ENGINE;
  if (forced === "replay") {
    choice = { kind: "replay", reason: "LIFECYCLE_ENGINE=replay", path: "", pulumiHome };
  } else {
    const r = spawnSync("bash", [join(ROOT, "scripts/toolchain.sh")], {
      encoding: "utf8",
      env: { ...process.env, TOOLCHAIN_QUIET: "1" },
      timeout: 1_800_000,
    });
    const path = r.stdout.trim().split("\n").pop() ?? "";
    // What the toolchain said of what is missing (not its closing "ready in ..." line).
    const said = r.stderr
      .trim()
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("toolchain: ready"))
      .map((l) => l.replace(/^toolchain: /, ""))
      .slice(-2)
      .join(" ");
    if (r.status === 0) {
      choice = {
        kind: "real",
        reason: "the Pulumi CLI and the command provider 1.2.1 are installed",
        path,
        pulumiHome,
      };
    } else {
      choice = {
        kind: "replay",
        reason:
          r.status === 3
            ? `the command provider 1.2.1 is not installed (${said || "scripts/toolchain.sh status 3"})`
            : `the Pulumi toolchain is not ready (scripts/toolchain.sh status ${r.status}: ${said})`,
        path: "",
        pulumiHome,
      };
    }
    if (forced === "real" && choice.kind !== "real") {
      throw new Error(`LIFECYCLE_ENGINE=real, but ${choice.reason}`);
    }
  }
  const line =
    choice.kind === "real"
      ? `lifecycle engine: the real Pulumi engine (Automation API, real CLI and command provider over SSH): ${choice.reason}`
      : `lifecycle engine: the replay (test/integration/replay.ts, a model of the command provider): ${choice.reason}`;
  process.stdout.write(`# ${line}\n`);
  return choice;
}

/** The engine every integration suite uses: see {@link engineChoice}. */
export function lifecycleEngine(host?: TestHost): LifecycleEngine {
  return engineChoice().kind === "real" ? new RealEngine(host) : new ReplayEngine(host);
}

/** The replay behind the common interface. */
export class ReplayEngine implements LifecycleEngine {
  readonly kind = "replay" as const;
  private readonly replay: Replay;
  constructor(host?: TestHost) {
    this.replay = new Replay(host);
  }
  up(program: () => pulumi.Output<unknown>[], options?: { interrupt?: Interrupt }): Promise<Ran[]> {
    useMocks();
    return this.replay.up(program, options);
  }
  destroy(): Promise<Ran[]> {
    return Promise.resolve(this.replay.destroy());
  }
  rerun(name: string): Promise<Ran> {
    return Promise.resolve(this.replay.rerun(name));
  }
  addHost(host: TestHost): void {
    this.replay.addHost(host);
  }
}

/** A step of a preview: what the engine would do to which resource. */
export interface PlannedStep {
  op: OpType;
  name: string;
  type: string;
}

const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
const isCommand = (type: string) => type.startsWith("command:");

/** The engine's step for one command resource, as the replay names it; undefined: nothing ran. */
function ranOp(op: OpType): Ran["op"] | undefined {
  switch (op) {
    case "create":
    case "create-replacement":
      return "create";
    case "update":
      return "update";
    case "delete":
    case "delete-replaced":
      return "delete";
    default:
      return undefined;
  }
}

/** A value of an exported state with its secrets shown: `{sig, plaintext}` unwrapped. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if ("4dabf18193072939515e22adb298388d" in o && typeof o.plaintext === "string") {
      return plain(JSON.parse(o.plaintext));
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

interface StoredResource {
  urn: string;
  type: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

let stackCount = 0;

/** Kills the connection user's sshd sessions on a test host: what a cut connection does. */
const cutCommand = (host: TestHost) => `pkill -KILL -f '^sshd: ${host.user}[@ ]' || true`;

/**
 * The real engine: each instance is one stack (a file backend in its own temp dir), whose
 * program is the function given to `up`, run in this process by the Automation API.
 */
export class RealEngine implements LifecycleEngine {
  readonly kind = "real" as const;
  private readonly hosts = new Map<number, TestHost>();
  private readonly dir = mkdtempSync(join(tmpdir(), "engine-"));
  private stack: Stack | undefined;
  private current: () => pulumi.Output<unknown>[] = () => [];
  /** The whole CLI output of the last operation (what a person would have seen). */
  lastOutput = "";
  private readonly name = `t${process.pid}x${++stackCount}`;

  constructor(host?: TestHost) {
    if (host !== undefined) this.addHost(host);
  }

  addHost(host: TestHost): void {
    this.hosts.set(host.port, host);
  }

  private async stackFor(): Promise<Stack> {
    if (this.stack !== undefined) return this.stack;
    const { path, pulumiHome } = engineChoice();
    const cli = path
      .split(":")
      .find((d) => spawnSync("test", ["-x", join(d, "pulumi")]).status === 0);
    if (cli === undefined) throw new Error(`no pulumi CLI in ${path}`);
    const backend = join(this.dir, "state");
    mkdirSync(backend, { recursive: true });
    mkdirSync(join(this.dir, "work"), { recursive: true });
    const pulumiCommand = await PulumiCommand.get({ root: dirname(cli), skipVersionCheck: true });
    const envVars: Record<string, string> = {
      PATH: `${path}:${process.env.PATH ?? ""}`,
      PULUMI_HOME: pulumiHome,
      PULUMI_BACKEND_URL: `file://${backend}`,
      PULUMI_CONFIG_PASSPHRASE: "lifecycle-test",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
    this.stack = await LocalWorkspace.createOrSelectStack(
      {
        projectName: "gunicorn-upstart-test",
        stackName: this.name,
        program: async () => {
          const outputs = this.current();
          return Object.fromEntries(outputs.map((o, i) => [`o${i}`, o]));
        },
      },
      {
        workDir: join(this.dir, "work"),
        pulumiCommand,
        envVars,
        projectSettings: {
          name: "gunicorn-upstart-test",
          runtime: "nodejs",
          backend: { url: `file://${backend}` },
        },
      },
    );
    return this.stack;
  }

  /** The state with its secrets shown, by resource name (command resources only). */
  private async stored(): Promise<Map<string, StoredResource>> {
    const stack = await this.stackFor();
    const deployment = (await stack.exportStack()).deployment as {
      resources?: StoredResource[];
    };
    const out = new Map<string, StoredResource>();
    for (const r of deployment.resources ?? []) {
      if (!isCommand(r.type)) continue;
      out.set(nameOf(r.urn), {
        urn: r.urn,
        type: r.type,
        inputs: plain(r.inputs ?? {}) as Record<string, unknown>,
        outputs: plain(r.outputs ?? {}) as Record<string, unknown>,
      });
    }
    return out;
  }

  /** Collects the command steps and the first failure of one engine operation. */
  private recorder() {
    const ran: Ran[] = [];
    const errors = new Map<string, string>();
    /** What each command printed, as the provider streams it (a deleted resource has no outputs). */
    const streamed = new Map<string, string>();
    const failed: { name: string; op: Ran["op"] }[] = [];
    const started = new Map<string, number>();
    const onEvent = (e: EngineEvent) => {
      const pre = e.resourcePreEvent;
      if (pre !== undefined && !pre.planning && isCommand(pre.metadata.type)) {
        const op = ranOp(pre.metadata.op);
        if (op === undefined) return;
        // A delete of a resource without a delete command runs nothing (the replay says so too).
        if (op === "delete" && pre.metadata.old?.inputs?.delete === undefined) return;
        const name = nameOf(pre.metadata.urn);
        started.set(name, Date.now());
        ran.push({ name, op, stdout: "", stderr: "" });
      }
      const diag = e.diagnosticEvent;
      if (diag !== undefined && diag.urn !== undefined) {
        const name = nameOf(diag.urn);
        const into = diag.severity === "error" ? errors : streamed;
        into.set(name, (into.get(name) ?? "") + diag.message);
      }
      const fail = e.resOpFailedEvent;
      if (fail !== undefined && isCommand(fail.metadata.type)) {
        failed.push({
          name: nameOf(fail.metadata.urn),
          op: ranOp(fail.metadata.op) ?? "update",
        });
      }
    };
    /** A delete's stdout and stderr are what it streamed: the state keeps no outputs of it. */
    const fillDeletes = () => {
      for (const r of ran) {
        if (r.op !== "delete") continue;
        r.stdout = streamed.get(r.name) ?? "";
        r.stderr = r.stdout;
      }
    };
    return { ran, errors, failed, started, onEvent, fillDeletes };
  }

  /** UpFailed for the first failed command (the interrupted one when there is one). */
  private failure(rec: ReturnType<RealEngine["recorder"]>, error: unknown, prefer?: string): Error {
    const first = rec.failed.find((f) => f.name === prefer) ?? rec.failed[0];
    if (first === undefined) {
      const named = [...rec.errors.entries()][0];
      if (named !== undefined) return new UpFailed(named[0], "update", named[1]);
      return error instanceof Error ? error : new Error(String(error));
    }
    return new UpFailed(first.name, first.op, rec.errors.get(first.name) ?? String(error));
  }

  async up(
    program: () => pulumi.Output<unknown>[],
    options: { interrupt?: Interrupt; expectNoChanges?: boolean } = {},
  ): Promise<Ran[]> {
    const stack = await this.stackFor();
    reset();
    this.current = program;
    const rec = this.recorder();
    let cut: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    const interrupt = options.interrupt;
    const watchers: ChildProcess[] = [];
    if (interrupt?.whenOnHost !== undefined) {
      // A watcher on each host, as root: it kills the sessions the moment the condition holds
      // (bounded: it gives up after about 60 s).
      for (const host of this.hosts.values()) {
        const [file, ...args] = host.rootArgv();
        const w = spawn(file!, args, { stdio: ["pipe", "ignore", "ignore"] });
        w.stdin.end(
          `for _ in $(seq 12000); do if ${interrupt.whenOnHost}; then ${cutCommand(host)}; exit 0; fi; sleep 0.005; done\n`,
        );
        watchers.push(w);
      }
    } else if (interrupt !== undefined) {
      // The provider's SSH session is cut from the host's side: its sshd sessions for the
      // connection's user are killed `afterMs` after the engine starts that resource.
      poll = setInterval(() => {
        const at = rec.started.get(interrupt.resource);
        if (at === undefined || cut !== undefined) return;
        clearInterval(poll);
        cut = setTimeout(
          () => this.cutSessions(),
          Math.max(0, at + interrupt.afterMs - Date.now()),
        );
      }, 10);
    }
    let output = "";
    try {
      await stack.up({
        onEvent: rec.onEvent,
        onOutput: (o) => (output += o),
        color: "never",
        ...(options.expectNoChanges === true ? { expectNoChanges: true } : {}),
      });
    } catch (e) {
      throw this.failure(rec, e, interrupt?.resource);
    } finally {
      clearInterval(poll);
      clearTimeout(cut);
      for (const w of watchers) w.kill("SIGKILL");
      this.lastOutput = output;
      writeFileSync(join(this.dir, "last-output.txt"), output);
    }
    rec.fillDeletes();
    const state = await this.stored();
    for (const r of rec.ran) {
      if (r.op === "delete") continue;
      const s = state.get(r.name);
      r.stdout = String(s?.outputs.stdout ?? "");
      r.stderr = String(s?.outputs.stderr ?? "");
    }
    return rec.ran;
  }

  /** `pulumi preview` of the program: the steps the engine plans for each resource. */
  async preview(program: () => pulumi.Output<unknown>[]): Promise<PlannedStep[]> {
    const stack = await this.stackFor();
    reset();
    this.current = program;
    const steps: PlannedStep[] = [];
    let output = "";
    await stack.preview({
      onOutput: (o) => (output += o),
      color: "never",
      onEvent: (e) => {
        const pre = e.resourcePreEvent;
        if (pre === undefined) return;
        steps.push({
          op: pre.metadata.op,
          name: nameOf(pre.metadata.urn),
          type: pre.metadata.type,
        });
      },
    });
    this.lastOutput = output;
    return steps;
  }

  async destroy(): Promise<Ran[]> {
    const stack = await this.stackFor();
    const rec = this.recorder();
    let output = "";
    try {
      await stack.destroy({ onEvent: rec.onEvent, onOutput: (o) => (output += o), color: "never" });
    } catch (e) {
      throw this.failure(rec, e);
    } finally {
      this.lastOutput = output;
    }
    rec.fillDeletes();
    return rec.ran;
  }

  /** The stack's state as `pulumi stack export` prints it (secrets encrypted). */
  async exportedBytes(): Promise<number> {
    const stack = await this.stackFor();
    const r = spawnSync("pulumi", ["stack", "export", "--stack", stack.name], {
      cwd: join(this.dir, "work"),
      encoding: "utf8",
      maxBuffer: 1 << 30,
      env: {
        ...process.env,
        PATH: `${engineChoice().path}:${process.env.PATH ?? ""}`,
        PULUMI_HOME: engineChoice().pulumiHome,
        PULUMI_BACKEND_URL: `file://${join(this.dir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "lifecycle-test",
        PULUMI_SKIP_UPDATE_CHECK: "true",
      },
    });
    if (r.status !== 0) throw new Error(`stack export failed: ${r.stderr}`);
    return Buffer.byteLength(r.stdout);
  }

  async rerun(name: string): Promise<Ran> {
    const s = (await this.stored()).get(name);
    if (s === undefined) throw new Error(`${name} is not in the state`);
    const command = String(s.inputs.update ?? s.inputs.create);
    const stdin = String(s.inputs.stdin ?? "");
    const conn = s.inputs.connection as Record<string, unknown>;
    const host = this.hosts.get(Number(conn.port));
    if (host === undefined) throw new Error(`${name}: ${String(conn.port)} is not a test host`);
    const [file, ...args] = host.sshArgv(command);
    const r = spawnSync(file!, args, {
      input: stdin,
      encoding: "utf8",
      timeout: 300_000,
      maxBuffer: 64 << 20,
    });
    if (r.status !== 0) throw new UpFailed(name, "update", r.stderr);
    return { name, op: "update", stdout: r.stdout, stderr: r.stderr };
  }

  /** Kills every SSH session of the connection user on each test host (an interrupt). */
  private cutSessions(): void {
    for (const host of this.hosts.values()) {
      host.root(cutCommand(host));
    }
  }
}

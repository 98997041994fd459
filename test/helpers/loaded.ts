// A command resource's stdin as its loader command reads it (components/render/remoteScripts.ts
// loaderCommand): a byte count line, the program, then the content.
import { spawnSync } from "node:child_process";
import { unwrapSecret } from "./secrets";

/** The program and the content of a recorded `stdin` input (a secret one unwrapped). */
export function loaded(stdin: unknown): { program: string; content: string } {
  const s = String(unwrapSecret(stdin) ?? "");
  const newline = s.indexOf("\n");
  const bytes = Number(s.slice(0, newline));
  if (newline < 0 || !Number.isInteger(bytes)) return { program: "", content: s };
  const rest = Buffer.from(s.slice(newline + 1), "utf8");
  return {
    program: rest.subarray(0, bytes).toString("utf8"),
    content: rest.subarray(bytes).toString("utf8"),
  };
}

/** The program a recorded command resource loads (empty for a helper's commands). */
export function programOf(inputs: Record<string, unknown>): string {
  return loaded(inputs.stdin).program;
}

/** The content a recorded command resource sends after its program. */
export function contentOf(inputs: Record<string, unknown>): string {
  return loaded(inputs.stdin).content;
}

/**
 * One operation of a loaded step program (components/host/step-program.sh, or
 * plain-program.sh, which has no labels): its label and its script, read by bash from the
 * program's parameter block; undefined when the program has no such operation.
 */
export function operationOf(
  inputs: Record<string, unknown>,
  op: string,
): { label: string; script: string } | undefined {
  const program = programOf(inputs);
  // The parameter block: everything before the program's first command.
  const block = program.slice(0, program.search(/\n(set -u|op=\$\{1:-\})\n/));
  const print = [
    'for i in "${!OPERATIONS[@]}"; do',
    '  if [ "${OPERATIONS[i]}" = "$1" ]; then printf "%s\\0%s" "${LABELS[i]:-}" "${SCRIPTS[i]}"; fi',
    "done",
  ].join("\n");
  const r = spawnSync("/bin/bash", ["-c", `${block}\n${print}`, "operation", op], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`the program's parameters do not run: ${r.stderr}`);
  if (r.stdout === "") return undefined;
  const [label, script] = r.stdout.split("\0") as [string, string];
  return { label, script };
}

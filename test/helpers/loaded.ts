// A command resource's stdin as its loader command reads it (components/render/remoteScripts.ts
// loaderCommand): a byte count line, the program, then the content.
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

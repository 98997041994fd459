import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pyQuote, shQuote } from "./shell";

/**
 * The programs that run on hosts live as files in `components/host/` (`dist/host/` once built):
 * bash as `.sh`, Python as `.py`, each linted as what it is. This is the one renderer that
 * turns a `.sh` file into the text a resource sends: it fills the file's parameter block and
 * inlines the fragments it sources from `lib/`, so a host gets one self-contained script, and
 * what the helper (`sudo: helper`) fixes by hash is exactly that text.
 *
 * A program's parameter block sits between `# @params` and `# @end-params`, one `NAME=...` line
 * per parameter with a default that lets shellcheck (and a person) run the file as it is:
 * every parameter must be given and nothing else may be, so a renamed one fails the render.
 * `. lib/NAME.sh` (or `. "lib/init-$INIT.sh"`, naming a string parameter) is replaced by that
 * fragment; a fragment may source others.
 */
export const HOST_DIR = join(__dirname, "..", "host");

/** `"$1"`: a value the script takes at run time as its first argument (the helper's counts). */
export interface PositionalArg {
  positional: 1;
}

/**
 * A parameter's value: a string (quoted with the one quoting function), a whole number, a flag
 * (`1` or empty, for `[ -n "$X" ]`), a list (a bash array), or a positional argument.
 */
export type HostValue = string | number | boolean | readonly string[] | PositionalArg;

const cache = new Map<string, string>();

/** A host file's text, as it is in the folder. */
export function hostText(file: string): string {
  let text = cache.get(file);
  if (text === undefined) {
    text = readFileSync(join(HOST_DIR, file), "utf8");
    cache.set(file, text);
  }
  return text;
}

function renderValue(file: string, name: string, value: HostValue): string {
  if (typeof value === "string") return shQuote(value);
  if (typeof value === "boolean") return value ? "1" : "''";
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value))
      throw new Error(`${file}: ${name} must be a whole number, got ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `(${(value as readonly string[]).map(shQuote).join(" ")})`;
  return '"$1"';
}

const PARAM_LINE = /^([A-Za-z_][A-Za-z0-9_]*)=/;
const INCLUDE_LINE = /^\s*\. "?lib\/([^"\s]+)"?\s*$/;
const SOURCE_DIRECTIVE = /^\s*# shellcheck source=/;

/** A fragment's lines, its `shell=` directive dropped, its own includes inlined. */
function inlineIncludes(
  file: string,
  lines: string[],
  params: Record<string, HostValue>,
  seen: string[],
): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const include = INCLUDE_LINE.exec(line);
    if (include === null) {
      out.push(line);
      continue;
    }
    const name = (include[1] as string).replace(
      /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
      (_, key: string) => {
        const value = params[key];
        if (typeof value !== "string")
          throw new Error(`${file}: include ${line.trim()} names ${key}, not a string parameter`);
        return value;
      },
    );
    const lib = `lib/${name}`;
    if (seen.includes(lib)) throw new Error(`${file}: ${lib} includes itself`);
    // A fragment's directive lines for shellcheck go with the include they belonged to.
    while (out.length > 0 && SOURCE_DIRECTIVE.test(out[out.length - 1] as string)) out.pop();
    const body = hostText(lib)
      .replace(/\n$/, "")
      .split("\n")
      .filter((l) => !/^# shellcheck shell=/.test(l));
    out.push(...inlineIncludes(lib, body, params, [...seen, lib]));
  }
  return out;
}

/**
 * Fills the parameter block of `file`'s lines: each declared `NAME` line becomes `assign(NAME)`;
 * every declared name must be given, once, and nothing else. Returns the lines before the
 * block, the filled block and the lines after it.
 */
function fillParams(
  file: string,
  params: Record<string, unknown>,
  paramLine: RegExp,
  assign: (name: string) => string,
): { head: string[]; rest: string[] } {
  const lines = hostText(file).replace(/\n$/, "").split("\n");
  const begin = lines.indexOf("# @params");
  const end = lines.indexOf("# @end-params");
  const given = new Set(Object.keys(params));
  if (begin < 0) {
    if (given.size > 0) throw new Error(`${file}: no parameter block`);
    return { head: [], rest: lines };
  }
  if (end < begin) throw new Error(`${file}: "# @params" without "# @end-params"`);
  const head = lines.slice(0, begin);
  for (const line of lines.slice(begin + 1, end)) {
    const match = paramLine.exec(line);
    if (match === null) {
      head.push(line);
      continue;
    }
    const name = match[1] as string;
    if (!given.delete(name)) {
      const why = name in params ? "is set twice" : "is not given";
      throw new Error(`${file}: parameter ${name} ${why}`);
    }
    head.push(assign(name));
  }
  // Only parameters the block declares; names used in include paths are among them.
  if (given.size > 0)
    throw new Error(`${file}: no parameter ${[...given].join(", ")} in its block`);
  return { head, rest: lines.slice(end + 1) };
}

/**
 * The text of host program `file` (a `.sh` under {@link HOST_DIR}) with `params` filled in and
 * its fragments inlined. Throws on a missing, unknown or repeated parameter.
 */
export function renderHostProgram(file: string, params: Record<string, HostValue> = {}): string {
  const { head, rest } = fillParams(
    file,
    params,
    PARAM_LINE,
    (name) => `${name}=${renderValue(file, name, params[name] as HostValue)}`,
  );
  return [...head, ...inlineIncludes(file, rest, params, [file])].join("\n") + "\n";
}

/** A Python parameter's value: a string, a whole number, or None. */
export type PythonValue = string | number | null;

/**
 * The lines of the Python file `file` (a `.py` under {@link HOST_DIR}) with its parameter block
 * (`NAME = default` lines) filled in: strings through the one Python quoting function.
 */
export function renderHostPython(file: string, params: Record<string, PythonValue>): string[] {
  const { head, rest } = fillParams(file, params, /^([A-Za-z_][A-Za-z0-9_]*) = /, (name) => {
    const value = params[name] as PythonValue;
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw new Error(`${file}: ${name} must be a whole number, got ${value}`);
    }
    return `${name} = ${value === null ? "None" : typeof value === "string" ? pyQuote(value) : value}`;
  });
  return [...head, ...rest];
}

/**
 * A fragment from `lib/` as lines (its own includes inlined), for the programs that still
 * assemble a script around it.
 */
export function hostLib(name: string): string[] {
  return inlineIncludes(`lib/${name}`, [`. lib/${name}`], {}, []);
}

// Matching control characters is the point of several checks here.
/* eslint-disable no-control-regex */

/**
 * The checks a setting's value goes through, one function per kind of value: each takes the
 * user-facing field name (shown in the message) and the raw value, and returns the value in
 * its normal form or throws {@link SpecError}. Pure; the settings table
 * (components/render/settings.ts) names which check each setting uses.
 */

/** A setting the user got wrong. `field` is the user-facing name, shown in the message. */
export class SpecError extends Error {
  constructor(
    public readonly field: string,
    message: string,
  ) {
    super(`invalid '${field}': ${message}`);
    this.name = "SpecError";
  }
}

/** Signals Upstart accepts by name in `reload signal`, `kill signal` and `normal exit`. */
export const SIGNALS = [
  "HUP",
  "INT",
  "QUIT",
  "KILL",
  "USR1",
  "USR2",
  "TERM",
  "WINCH",
  "TTIN",
  "TTOU",
] as const;

const JOB_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// Debian's default NAME_REGEX for adduser, which also covers Ubuntu and most distributions.
const NAME_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const WSGI_RE =
  /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)?$/;
const CONTROL_RE = /[\x00-\x1f\x7f]/;

export function show(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** An absolute, normalised path without control characters; spaces are fine (we quote). */
export function checkPath(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new SpecError(field, `expected an absolute path, got ${show(value)}`);
  }
  if (!value.startsWith("/")) {
    throw new SpecError(field, `${show(value)} is not absolute; paths must start with '/'`);
  }
  if (CONTROL_RE.test(value)) {
    throw new SpecError(field, "paths may not contain newlines, NUL or other control characters");
  }
  if (value.length > 1024) {
    throw new SpecError(field, "paths may be at most 1024 characters long");
  }
  const parts = value.split("/");
  if (parts.some((p) => p === "." || p === "..")) {
    throw new SpecError(field, `${show(value)} contains '.' or '..'; give the normalised path`);
  }
  if (value === "/" || value.endsWith("/")) {
    throw new SpecError(field, `${show(value)} must name a file or directory, not end in '/'`);
  }
  return value;
}

/**
 * A path that lands in an Upstart stanza (`exec`, `chdir`). Upstart splits these on blanks,
 * and an `exec` line with any of its shell characters runs through `/bin/sh -c`, whose PID
 * would then be the one Upstart signals; so only plain path characters are allowed.
 */
export function checkStanzaPath(field: string, value: unknown, hint = ""): string {
  const path = checkPath(field, value);
  if (!/^[A-Za-z0-9_./+,:@%-]+$/.test(path)) {
    throw new SpecError(
      field,
      `${show(path)} is used in the job file, where only letters, digits and _ . / + , : @ % - are allowed${hint}`,
    );
  }
  return path;
}

export function checkInt(field: string, value: unknown, min: number, max: number): number {
  const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new SpecError(field, `expected a whole number from ${min} to ${max}, got ${show(value)}`);
  }
  return n;
}

export function checkOneOf<T extends string>(
  field: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new SpecError(field, `expected one of ${allowed.join(", ")}, got ${show(value)}`);
  }
  return value as T;
}

export function checkName(field: string, value: unknown): string {
  if (typeof value !== "string" || !NAME_RE.test(value)) {
    throw new SpecError(
      field,
      `${show(value)} is not a valid user or group name (lowercase letters, digits, '_' and '-', starting with a letter or '_', at most 32)`,
    );
  }
  return value;
}

export function checkJob(field: string, value: unknown): string {
  if (typeof value !== "string" || !JOB_RE.test(value) || value.endsWith(".conf")) {
    throw new SpecError(
      field,
      `${show(value)} is not a valid Upstart job name (letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64, without '.conf')`,
    );
  }
  return value;
}

export function checkSignal(field: string, value: unknown): string {
  const name = typeof value === "string" ? value.replace(/^SIG/, "") : value;
  return checkOneOf(field, name, SIGNALS);
}

/** A parsed bind address. */
export type BindAddress =
  { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

/** Parses `HOST:PORT`, `[IPV6]:PORT` or `unix:/path`, the forms Gunicorn's `--bind` accepts. */
export function parseBind(field: string, value: unknown): BindAddress {
  if (typeof value !== "string") {
    throw new SpecError(field, `expected HOST:PORT or unix:/path, got ${show(value)}`);
  }
  if (value.startsWith("unix:")) {
    return { kind: "unix", path: checkStanzaPath(field, value.slice("unix:".length)) };
  }
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (!m) {
    throw new SpecError(
      field,
      `${show(value)} is not HOST:PORT, [IPV6]:PORT or unix:/path (e.g. 127.0.0.1:8000)`,
    );
  }
  const host = m[1] as string;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) {
    throw new SpecError(field, `port ${port} is out of range; ports run from 1 to 65535`);
  }
  if (/^\d+(\.\d+){3}$/.test(host) && host.split(".").some((o) => Number(o) > 255)) {
    throw new SpecError(field, `${show(host)} is not a valid IPv4 address`);
  }
  return { kind: "tcp", host, port };
}

/**
 * Where a client on the host reaches the bind: a wildcard bind accepts connections on loopback,
 * and brackets are not part of an IPv6 address. The health gate and the warm reload's check
 * both ask here.
 */
export function connectTarget(bind: string): BindAddress {
  const parsed = parseBind("bind", bind);
  if (parsed.kind === "unix") return parsed;
  let host = parsed.host.replace(/^\[(.*)\]$/, "$1");
  if (host === "0.0.0.0") host = "127.0.0.1";
  if (host === "::") host = "::1";
  return { kind: "tcp", host, port: parsed.port };
}

/** Whether the bind is a TCP port below 1024, which only root (or CAP_NET_BIND_SERVICE) binds. */
export function bindsLowPort(bind: string): boolean {
  const parsed = parseBind("bind", bind);
  return parsed.kind === "tcp" && parsed.port < 1024;
}

/** Checks env names and values; `strict` values must also survive Upstart's `env` stanza. */
export function checkEnv(field: string, value: unknown, strict: boolean): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new SpecError(field, `expected a map of NAME to value, got ${show(value)}`);
  }
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (!ENV_NAME_RE.test(key)) {
      throw new SpecError(
        field,
        `${show(key)} is not a valid environment variable name (letters, digits and '_', not starting with a digit)`,
      );
    }
    if (typeof raw !== "string") {
      throw new SpecError(`${field}.${key}`, "expected a string value");
    }
    if (raw.includes("\0")) {
      throw new SpecError(`${field}.${key}`, "environment values may not contain NUL");
    }
    if (strict && /[\x00-\x1f\x7f"\\$`]/.test(raw)) {
      throw new SpecError(
        `${field}.${key}`,
        "job environment values may not contain control characters, quotes, '\\', '$' or '`'; put such values in the app environment",
      );
    }
    out[key] = raw;
  }
  return out;
}

/** Parses `KEY=VALUE` strings (the stack config's list form) into a map. */
export function parseEnvList(field: string, value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!Array.isArray(value)) {
    throw new SpecError(field, `expected a list of "NAME=value" strings, got ${show(value)}`);
  }
  const out: Record<string, string> = {};
  for (const item of value) {
    const eq = typeof item === "string" ? item.indexOf("=") : -1;
    if (typeof item !== "string" || eq <= 0) {
      throw new SpecError(field, `expected "NAME=value", got ${show(item)}`);
    }
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return checkEnv(field, out, false);
}

/**
 * A command line for bash, run as the app user (never root): one line of at most 2000
 * characters, no control characters; quoting is the user's, as in their own shell.
 */
export function checkCommandLine(field: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "" || value.length > 2000) {
    throw new SpecError(
      field,
      `expected a command line of 1 to 2000 characters, got ${show(value)}`,
    );
  }
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
    throw new SpecError(
      field,
      "may not contain newlines or control characters (one command a line)",
    );
  }
  return value;
}

export function checkText(field: string, value: unknown, max: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw new SpecError(field, `expected text of 1 to ${max} characters, got ${show(value)}`);
  }
  if (/[\x00-\x1f\x7f"\\]/.test(value)) {
    throw new SpecError(field, "may not contain newlines, control characters, '\"' or '\\'");
  }
  return value;
}

/** The health gate passes once the master has served for 2 s: a shorter timeout never can. */
export const GATE_STABLE_SECONDS = 2;
export function checkStartTimeout(field: string, value: unknown): number {
  const min = GATE_STABLE_SECONDS + 2;
  const n = checkInt(field, value, 1, 3600);
  if (n < min) {
    throw new SpecError(
      field,
      `${n} s can never pass the health gate, which needs the master serving for ${GATE_STABLE_SECONDS} s after it first answers; use ${min} to 3600`,
    );
  }
  return n;
}

export function checkWorkers(field: string, value: unknown): number | "auto" {
  if (value === "auto") return "auto";
  try {
    return checkInt(field, value, 1, 1024);
  } catch {
    throw new SpecError(
      field,
      `expected a whole number from 1 to 1024 or "auto", got ${show(value)}`,
    );
  }
}

export function checkHealthPath(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^\/[\x21-\x7e]{0,1023}$/.test(value)) {
    throw new SpecError(
      field,
      `expected a URL path starting with '/', without blanks, got ${show(value)}`,
    );
  }
  return value;
}

export function checkBool(field: string, value: unknown): boolean {
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  throw new SpecError(field, `expected true or false, got ${show(value)}`);
}

export function checkRunlevels(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^\[!?[0-6Ss]{1,8}\]$/.test(value)) {
    throw new SpecError(
      field,
      `expected a runlevel set such as [2345] or [!2345], got ${show(value)}`,
    );
  }
  return value;
}

export function checkWsgi(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length > 256 || !WSGI_RE.test(value)) {
    throw new SpecError(
      field,
      `expected a WSGI app as module.path:callable (e.g. mysite.wsgi:application), got ${show(value)}`,
    );
  }
  return value;
}

export function checkArgs(field: string, value: unknown): string[] {
  if (!Array.isArray(value))
    throw new SpecError(field, `expected a list of strings, got ${show(value)}`);
  return value.map((v, i) => {
    if (typeof v !== "string" || v.includes("\0") || v.length > 4096) {
      throw new SpecError(
        `${field}[${i}]`,
        "expected a string without NUL, at most 4096 characters",
      );
    }
    return v;
  });
}

/** A Host header value: a DNS name or an address, with an optional port. */
/**
 * nginx `server_name`: `_` (any name: the port's default server), or names separated by
 * single spaces, each a host name or a leading-wildcard one (`*.example.com`). Goes into the
 * site unquoted, so nothing else may reach it.
 */
export function checkServerName(field: string, value: unknown): string {
  const name =
    /^(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
  if (
    typeof value !== "string" ||
    !(value === "_" || (value.length <= 1000 && value.split(" ").every((n) => name.test(n))))
  ) {
    throw new SpecError(
      field,
      `expected _ (any name) or host names separated by spaces, e.g. "www.example.com example.com", got ${show(value)}`,
    );
  }
  return value;
}

/**
 * A URL path prefix the app is served under (`/blog`, `/apps/shop`): Gunicorn gets it as
 * SCRIPT_NAME, nginx as a location. No trailing slash, plain segments only.
 */
export function checkUrlPrefix(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length > 200 || !/^(\/[A-Za-z0-9._~-]+)+$/.test(value)) {
    throw new SpecError(
      field,
      `expected a path such as /blog (segments of letters, digits, '.', '_', '~' and '-'; no trailing '/'), got ${show(value)}`,
    );
  }
  return value;
}

/** nginx's size syntax (`client_max_body_size`): a number with an optional k, m or g. */
export function checkSize(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^[0-9]{1,9}[kKmMgG]?$/.test(value)) {
    throw new SpecError(field, `expected a size such as 10m, 512k or 1g, got ${show(value)}`);
  }
  return value;
}

/** Gunicorn's `forwarded_allow_ips`: `*`, or IP addresses separated by commas. */
export function checkAddressList(field: string, value: unknown): string {
  if (
    typeof value !== "string" ||
    !(value === "*" || value.split(",").every((a) => /^[0-9A-Fa-f:.]{2,45}$/.test(a)))
  ) {
    throw new SpecError(
      field,
      `expected * or IP addresses separated by commas, e.g. 127.0.0.1,::1, got ${show(value)}`,
    );
  }
  return value;
}

export function checkHostHeader(field: string, value: unknown): string {
  if (
    typeof value !== "string" ||
    !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(:\d{1,5})?$/.test(value)
  ) {
    throw new SpecError(
      field,
      `expected a host name such as www.example.com (optionally :PORT), got ${show(value)}`,
    );
  }
  return value;
}

export function checkList(field: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new SpecError(field, `expected a list, got ${show(value)}`);
  return value;
}

/** A path in a space-separated systemd list: no blanks, quotes, backslashes or '%'. */
export function checkUnitPath(field: string, value: unknown): string {
  const path = checkPath(field, value);
  if (/[\s"'\\%]/.test(path)) {
    throw new SpecError(
      field,
      `${show(path)} cannot go into a systemd path list (no blanks, quotes, '\\' or '%')`,
    );
  }
  return path;
}

export function checkExit(field: string, value: unknown): string {
  if (typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value))) {
    return String(checkInt(field, value, 0, 255));
  }
  return checkSignal(field, value);
}

export function checkUmask(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^0?[0-7]{3}$/.test(value)) {
    throw new SpecError(field, `expected an octal umask such as 022 or 027, got ${show(value)}`);
  }
  return value.padStart(4, "0");
}

export function checkNofile(field: string, value: unknown): { soft: number; hard: number } {
  const v = value as { soft?: unknown; hard?: unknown } | null;
  if (typeof v !== "object" || v === null) {
    throw new SpecError(field, `expected { soft, hard }, got ${show(value)}`);
  }
  const soft = checkInt(`${field}.soft`, v.soft, 1, 1 << 30);
  const hard = checkInt(`${field}.hard`, v.hard ?? soft, 1, 1 << 30);
  if (soft > hard) throw new SpecError(field, `soft limit ${soft} is above hard limit ${hard}`);
  return { soft, hard };
}

/** A mode string for `chmod`: three or four octal digits. */
export function checkMode(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^[0-7]{3,4}$/.test(value)) {
    throw new SpecError(field, `expected an octal mode such as 0644 or 0640, got ${show(value)}`);
  }
  return value.padStart(4, "0");
}

/** A bind address as Gunicorn's `--bind` takes it (checked by {@link parseBind}). */
export function checkBind(field: string, value: unknown): string {
  parseBind(field, value);
  return value as string;
}

/** A list whose every item passes `check` (named `field[i]` in errors). */
export function checkEach<T>(
  check: (field: string, value: unknown) => T,
): (field: string, value: unknown) => T[] {
  return (field, value) => checkList(field, value).map((v, i) => check(`${field}[${i}]`, v));
}

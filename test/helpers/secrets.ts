// How Pulumi's mock monitor records a secret input, for assertions (no side effects here).
/** The key Pulumi marks a secret value with in serialized inputs (`{<key>: ..., value}`). */
export const SECRET_MARK = "4dabf18193072939515e22adb298388d";

/** Whether a recorded input value is a secret. */
export function isMarkedSecret(value: unknown): boolean {
  return typeof value === "object" && value !== null && SECRET_MARK in value;
}

/** A recorded input value with its secret wrapper, if any, removed. */
export function unwrapSecret(value: unknown): unknown {
  return isMarkedSecret(value) ? (value as { value: unknown }).value : value;
}

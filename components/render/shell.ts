/**
 * The one quoting function for everything we put into generated shell.
 *
 * Single quotes make bash take every byte literally; a single quote inside the value is
 * closed, escaped and reopened (`'\''`). NUL cannot be represented in a bash word, so it is
 * refused here as a last line of defence (validation rejects it earlier with a field name).
 */
export function shQuote(value: string): string {
  if (value.includes("\0")) {
    throw new Error("a NUL byte cannot be passed to a shell");
  }
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Quotes every element and joins them with spaces, for argument lists. */
export function shQuoteAll(values: readonly string[]): string {
  return values.map(shQuote).join(" ");
}

/**
 * A Python string literal for `value`. JSON string syntax is a subset of Python's, so
 * `JSON.stringify` gives a literal Python reads back byte for byte (quotes, backslashes,
 * newlines and control characters are escaped).
 */
export function pyQuote(value: string): string {
  return JSON.stringify(value);
}

/**
 * What every component here does the same way: turn a pure validation error into the
 * ResourceError Pulumi reports at preview, hand its own `dependsOn` down to its command, and
 * tell plain input (checked at once) from input known only later.
 */
import * as pulumi from "@pulumi/pulumi";
import { SpecError } from "./spec";

/** Runs `check`; a SpecError becomes `ResourceError("<name>: invalid '<field>': ...")`. */
export function validated<T>(name: string, resource: pulumi.Resource, check: () => T): T {
  try {
    return check();
  } catch (e) {
    throw e instanceof SpecError ? new pulumi.ResourceError(`${name}: ${e.message}`, resource) : e;
  }
}

/** Options for a component's child: parented to it, waiting for what the component waits for. */
export function childOptions(
  parent: pulumi.Resource,
  opts: pulumi.ComponentResourceOptions | undefined,
): pulumi.CustomResourceOptions {
  return { parent, ...(opts?.dependsOn !== undefined ? { dependsOn: opts.dependsOn } : {}) };
}

/** True when a value holds no Output or Promise anywhere, so it can be checked right away. */
export function isPlain(value: unknown): boolean {
  if (pulumi.Output.isInstance(value) || value instanceof Promise) return false;
  if (Array.isArray(value)) return value.every(isPlain);
  if (typeof value === "object" && value !== null) return Object.values(value).every(isPlain);
  return true;
}

/**
 * Two things every component here does the same way: turn a pure validation error into the
 * ResourceError Pulumi reports at preview, and hand its own `dependsOn` down to its command.
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

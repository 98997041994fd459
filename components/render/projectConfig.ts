/**
 * Reads stack config from the project's YAML files as the Pulumi CLI would (`Pulumi.yaml`
 * schema defaults, overridden by `Pulumi.<stack>.yaml`), for the offline render: no CLI, no
 * cloud, no decryption. Encrypted (`secure:`) values are reported, never read.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { ConfigSource } from "./stackConfig";

interface ProjectFile {
  name: string;
  config?: Record<string, { default?: unknown }>;
}

/** A config source over the YAML files, plus the keys whose values are encrypted. */
export interface FileConfig extends ConfigSource {
  project: string;
  secretKeys: string[];
}

function isSecure(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  if ("secure" in value) return true;
  return Object.values(value).some(isSecure);
}

function asConfigString(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function readProjectConfig(dir: string, stack: string | undefined): FileConfig {
  const project = parse(readFileSync(join(dir, "Pulumi.yaml"), "utf8")) as ProjectFile;
  const values = new Map<string, unknown>();
  for (const [key, schema] of Object.entries(project.config ?? {})) {
    if (schema.default !== undefined) values.set(key, schema.default);
  }
  const secretKeys: string[] = [];
  const stackKeys: string[] = [];
  if (stack !== undefined) {
    const file = join(dir, `Pulumi.${stack}.yaml`);
    if (!existsSync(file)) throw new Error(`no stack file ${file}`);
    const stackFile = (parse(readFileSync(file, "utf8")) ?? {}) as {
      config?: Record<string, unknown>;
    };
    for (const [fullKey, value] of Object.entries(stackFile.config ?? {})) {
      const [ns, key] = fullKey.includes(":") ? fullKey.split(/:(.*)/s) : [project.name, fullKey];
      if (ns !== project.name || key === undefined) continue;
      stackKeys.push(key);
      if (isSecure(value)) {
        secretKeys.push(key);
        values.delete(key);
      } else {
        values.set(key, value);
      }
    }
  }
  return {
    project: project.name,
    secretKeys,
    get: (key) => (values.has(key) ? asConfigString(values.get(key)) : undefined),
    keys: () => stackKeys,
  };
}

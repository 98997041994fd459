import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Compares text with a golden file. Golden files change only through `npm run golden:update`
 * (UPDATE_GOLDEN=1), never silently; a missing golden file is a failure, not a new baseline.
 */
export function assertGolden(file: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(
    existsSync(file),
    `golden file ${file} is missing; run npm run golden:update and review it`,
  );
  assert.equal(
    actual,
    readFileSync(file, "utf8"),
    `differs from ${file}; if intended, npm run golden:update`,
  );
}

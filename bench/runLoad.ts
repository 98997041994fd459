// Runs bench/load.mjs (bounded HTTP load) in its own process, so that a deploy blocking this
// one on ssh cannot stall the load, and returns what it measured.
import { spawn } from "node:child_process";
import { join } from "node:path";

export interface LoadResult {
  /** When the load started, epoch ms. */
  start: number;
  /** Per request: [ms since start, latency ms, 1 if served / 0 if failed]. */
  requests: [number, number, number][];
}

export function runLoad(
  url: string,
  seconds: number,
  concurrency: number,
  /** Aborting it ends the load early (SIGTERM), with what it measured so far. */
  stop?: AbortSignal,
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(__dirname, "load.mjs"), url, String(seconds), String(concurrency)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    stop?.addEventListener("abort", () => child.kill("SIGTERM"));
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) =>
      code === 0
        ? resolve(JSON.parse(out) as LoadResult)
        : reject(new Error(`load exited ${code}`)),
    );
  });
}

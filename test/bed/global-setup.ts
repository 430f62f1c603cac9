import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { bedEnvFile } from "./bed-env.js";

const here = fileURLToPath(new URL(".", import.meta.url));

/** Runs a bed script, its output in the test log; asynchronously, so vitest's own event loop keeps serving its workers meanwhile. */
function run(script: "up" | "down"): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${here}${script}`, { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code));
  });
}

// Brings the real test bed up once per test run and takes it down after,
// unless it was already up (a developer keeps one running between runs) or
// DOCKHAND_BED_KEEP=1 asks to keep it. (spawnSync here blocked vitest while
// the bed stopped, and its last worker timed out waiting to be told to exit.)
export default async function setup(): Promise<() => Promise<void>> {
  const wasUp = existsSync(bedEnvFile());
  const status = await run("up");
  if (status !== 0) {
    throw new Error(`test/bed/up failed (exit ${status}); its component logs are in .bed/logs/`);
  }
  return async () => {
    if (wasUp || process.env.DOCKHAND_BED_KEEP === "1") return;
    await run("down");
  };
}

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { bedEnvFile } from "./bed-env.js";

const here = fileURLToPath(new URL(".", import.meta.url));

// Brings the real test bed up once per test run and takes it down after,
// unless it was already up (a developer keeps one running between runs) or
// DOCKHAND_BED_KEEP=1 asks to keep it.
export default function setup(): () => void {
  const wasUp = existsSync(bedEnvFile());
  const up = spawnSync(`${here}up`, { stdio: "inherit" });
  if (up.status !== 0) {
    throw new Error(`test/bed/up failed (exit ${up.status}); its component logs are in .bed/logs/`);
  }
  return () => {
    if (wasUp || process.env.DOCKHAND_BED_KEEP === "1") return;
    spawnSync(`${here}down`, { stdio: "inherit" });
  };
}

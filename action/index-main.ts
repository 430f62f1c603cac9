// Entry point of the main step (dist/main.mjs): run() and nothing else, so
// tests import run() without side effects. No process.exit(): run() leaves
// nothing that keeps Node alive (its client's sockets closed, timers
// cleared), and the exit code is process.exitCode as core.setFailed sets it,
// so the process ends by itself, its output flushed, as hosts such as
// @github/local-action expect.
import { run } from "./main.js";

await run();

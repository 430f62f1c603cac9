// Entry point of the main step (dist/main.mjs): run() and nothing else, so
// tests import run() without side effects. The explicit exit: an idle
// keep-alive socket must not hold a finished step open.
import { run } from "./main.js";

await run();
process.exit();

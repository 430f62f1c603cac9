// Entry of the `dockhand` command (npm run dockhand -- <command>, or
// `node app/cli.mjs` in the dispatcher image).

import { runCli } from "./cli.js";

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});

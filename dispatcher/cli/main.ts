// Entry of the `dockhand` command (npm run dockhand -- <command>, or
// `node app/cli.mjs` in the dispatcher image).

import { doctorCommand } from "../doctor/command.js";
import { runCli } from "./cli.js";

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  doctor: async (args) => {
    const { output, code } = await doctorCommand(args, process.env);
    process.stdout.write(`${output}\n`);
    return code;
  },
});

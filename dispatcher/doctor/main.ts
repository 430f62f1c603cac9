// `doctor`: does dockhand work on this cluster? Run right after
// `kubectl apply -k`, in the dispatcher's pod
//   kubectl -n dockhand exec deploy/dockhand -- /nodejs/bin/node /app/doctor.mjs
// or from a checkout with a kubeconfig
//   npx tsx dispatcher/doctor/main.ts --config deploy/base/config.yaml
// (or `dockhand doctor …`, docs/cli.md). Prints one row per check.

import { doctorCommand } from "./command.js";

const { output, code } = await doctorCommand(process.argv.slice(2), process.env);
process.stdout.write(`${output}\n`);
process.exitCode = code;

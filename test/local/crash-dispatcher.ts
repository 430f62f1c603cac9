// A dispatcher that dies mid-build, for the restart tests: a real process that
// starts a LocalExecutor, submits the plan it is given, says when the build
// step runs (and its pid), and then waits to be killed with SIGKILL — no
// stop(), no clean-up, exactly what a crash or an OOM kill leaves behind.
//
// Usage: tsx test/local/crash-dispatcher.ts <input.json>
// input: { config: Config, plan: BuildPlan, dockerHost: string }

import { readFileSync } from "node:fs";
import type { Config } from "../../dispatcher/config/schema.js";
import { LocalExecutor } from "../../dispatcher/local/local-executor.js";
import type { BuildPlan } from "../../dispatcher/plan/build-plan.js";

const input = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { config: Config; plan: BuildPlan; dockerHost: string };
const quiet = { info() {}, warn() {}, error() {} };
const executor = new LocalExecutor({
  config: input.config,
  dockerHost: input.dockerHost,
  log: quiet,
  report: async (report) => {
    process.stdout.write(`REPORT ${JSON.stringify(report)}\n`);
  },
});

await executor.start();
await executor.submit(input.plan, undefined);
const record = `${executor.stateDir}/builds/${input.plan.buildId}/build.json`;
for (;;) {
  const stored = JSON.parse(readFileSync(record, "utf8")) as { platforms: { steps: { name: string; process?: { pid: number } }[] }[] };
  const pid = stored.platforms[0]?.steps.find((step) => step.name === "build")?.process?.pid;
  if (pid !== undefined) {
    process.stdout.write(`RUNNING ${pid}\n`);
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}
setInterval(() => undefined, 60_000);

// The one way the API hands build logs to anyone (NDJSON, the build page, its
// event stream): what the executor reads from the build, with signed URLs'
// signatures taken out. docker prints the context URL it downloads ("Downloading
// build context from remote url: …&sig=…"), and a workflow log is often public:
// the signature would let anyone fetch the context until it expires.

import { setTimeout as sleep } from "node:timers/promises";
import type { Executor, LogOptions } from "../executor.js";
import type { LogLine } from "../protocol/build-logs.js";
import type { BuildState } from "../protocol/build-state.js";
import { isFinalPhase } from "../protocol/phases.js";
import { redactUrl } from "./log-redaction.js";

export async function* buildLogLines(executor: Executor, buildId: string, options: LogOptions): AsyncGenerator<LogLine> {
  for await (const line of executor.logs(buildId, options)) yield { ...line, line: redactUrl(line.line) };
}

/**
 * The build's state once final (undefined once gone): what a followed log
 * stream ends with. Its containers' logs end before the build does (the Job
 * controller marking the Job done, the pushed image read back, the index
 * pushed); ending the stream then told the Action "running", and it waited
 * and reopened the stream seconds later. An executor that can say when a
 * build turns final is asked; otherwise get() is asked again every 250 ms.
 */
export async function settledState(executor: Executor, buildId: string, signal: AbortSignal): Promise<BuildState | undefined> {
  if (executor.settled) return executor.settled(buildId, signal);
  for (;;) {
    const build = await executor.get(buildId);
    if (!build || isFinalPhase(build.state)) return build;
    await sleep(250, undefined, { signal });
  }
}

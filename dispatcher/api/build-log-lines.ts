// The one way the API hands build logs to anyone (NDJSON, the build page, its
// event stream): what the executor reads from the build, with signed URLs'
// signatures taken out. docker prints the context URL it downloads ("Downloading
// build context from remote url: …&sig=…"), and a workflow log is often public:
// the signature would let anyone fetch the context until it expires.

import type { Executor, LogOptions } from "../executor.js";
import type { LogLine } from "../protocol/build-logs.js";
import { redactUrl } from "./log-redaction.js";

export async function* buildLogLines(executor: Executor, buildId: string, options: LogOptions): AsyncGenerator<LogLine> {
  for await (const line of executor.logs(buildId, options)) yield { ...line, line: redactUrl(line.line) };
}

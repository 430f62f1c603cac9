// GET /v1/builds/{id}/logs: NDJSON, one LogLine per line, then one
// LogStreamEvent. `n` counts lines per platform and step from 1, so a client
// that lost the stream reopens it with `resume=<slug>/<step>:<n>,…` (the last
// line it saw of each) and it continues where it stopped; the build page's
// event stream uses the same cursor. Plain values, no TypeBox: the Action's
// bundle imports this.

export interface LogLine {
  /** The request's platform string, e.g. windows/amd64:ltsc2022. */
  platform: string;
  /** The step (container) the line came from: build, push-0, … */
  step: string;
  /** 1-based line number within (platform, step): what a resumed stream skips to. */
  n: number;
  line: string;
}

/** The stream's last line: the build's state once its logs are read (or "unknown"), or why the stream broke. */
export type LogStreamEvent = { event: "end"; state: string } | { event: "error"; error: string };

/** One entry of the resume cursor: `<slug>/<step>:<n>`. */
export const resumeEntryPattern = /^([a-z0-9-]+\/[a-z0-9-]+):(\d{1,9})$/;

/** `win-ltsc2022/build:120,linux-amd64/build:80` from the last line seen per `<slug>/<step>`. */
export function resumeCursor(counts: ReadonlyMap<string, number>): string {
  return [...counts].map(([key, n]) => `${key}:${n}`).join(",");
}

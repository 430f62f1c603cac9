// What a build's executor hands to GitHub reporting: one commit status for
// one context, and the reporter that sends it. Both executors report through
// it; dispatcher/github/ implements it.

import type { CommitStatusWanted } from "./commit-status.js";

/** Whether GitHub already shows a status: this very one, another of the same build (its pending), or nothing of it. */
export type Shown = "this" | "build" | "none";

export interface StatusReport {
  repository: string;
  sha: string;
  context: string;
  targetUrl: string;
  state: CommitStatusWanted["state"];
  description: string;
  /** Name of the Secret with this build's own GitHub token, if the request brought one. */
  tokenSecret?: string;
  /** Asked just before the status goes out (it may wait its turn): true drops it. */
  dropIf?: () => boolean;
}

export interface StatusReporter {
  /** Resolves "dropped" when report.dropIf dropped it unsent. */
  (report: StatusReport): Promise<void | "dropped">;
  /**
   * What is shown where it goes: this very status (sent, then the dispatcher
   * died before recording it), another of the same build (its pending), or
   * nothing of it. Absent: nothing to ask.
   */
  shown?: (report: StatusReport) => Promise<Shown>;
}

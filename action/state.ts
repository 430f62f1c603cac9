// What main hands to post, and nothing else: main and post share only the
// runner's saved state (core.saveState → $GITHUB_STATE → STATE_* for post).
// saveState appends to the file synchronously, so a build id saved is there
// even if main is killed the next instant.

import * as core from "@actions/core";

const keys = {
  buildId: "buildId",
  /** Set once nothing is left for post to do: the build ended, was cancelled, or was left running on purpose (wait: false). */
  settled: "settled",
} as const;

export function saveBuildId(buildId: string): void {
  core.saveState(keys.buildId, buildId);
}

export function saveSettled(how: "finished" | "cancelled" | "detached"): void {
  core.saveState(keys.settled, how);
}

export interface PostState {
  buildId: string | undefined;
  settled: string | undefined;
}

export function readPostState(): PostState {
  return { buildId: core.getState(keys.buildId) || undefined, settled: core.getState(keys.settled) || undefined };
}

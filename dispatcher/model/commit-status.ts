// What a platform's state looks like as a GitHub commit status. Pure.

import { describeStatus, type CommitState, truncateDescription } from "./status-description.js";
import type { PlatformState } from "../protocol/build-state.js";

export interface CommitStatusWanted {
  state: CommitState;
  description: string;
  final: boolean;
}

/**
 * Recorded instead of a commit state when a platform (or a build's index)
 * was cancelled before anything of it reached GitHub: nothing is sent for it
 * then, ever. A push that supersedes a long queue costs no writes for the
 * builds that never started showing, and GitHub's write budget goes to
 * statuses someone sees.
 */
export const withheldStatus = "none";

const finalCommitStates: ReadonlySet<string> = new Set(["success", "failure", "error", withheldStatus]);

/** Whether a commit state (as reported, or recorded on a Job) ends its context: nothing follows it. */
export function isFinalCommitState(state: string | undefined): state is string {
  return state !== undefined && finalCommitStates.has(state);
}

/** A cancelled platform of which nothing was reported: it gets no status at all. */
export function isWithheld(platform: Pick<PlatformState, "state">, reported: string | undefined): boolean {
  return reported === undefined && platform.state === "cancelled";
}

export function commitStatusFor(platform: PlatformState): CommitStatusWanted {
  switch (platform.state) {
    case "queued":
      // Why it waits (a dockerd pool's per-node limit, no Ready engine) or,
      // when nothing holds it, the builder choice: the first thing a reader
      // wants explained.
      return { state: "pending", description: truncateDescription(`Queued: ${platform.message ?? platform.builderReason}`), final: false };
    case "succeeded":
      return { ...describeStatus({ phase: "succeeded", digest: platform.digest, durationSeconds: durationOf(platform) }), final: true };
    case "running":
      if (platform.imageCheck === "pending") {
        return { state: "pending", description: "Pushed; reading the image back from the registry…", final: false };
      }
      // Often the first status a platform gets (its pending waited its turn
      // behind the build's other statuses): it says why this builder, too.
      if (platform.builderReason) {
        const node = platform.node === undefined ? "" : ` on ${platform.node}`;
        return { state: "pending", description: truncateDescription(`Building${node}: ${platform.builderReason}`), final: false };
      }
      return { ...describeStatus({ phase: "building", builder: platform.builder, node: platform.node }), final: false };
    case "failed":
      if (platform.imageCheck === "failed") {
        return { state: "failure", description: truncateDescription(capitalize(platform.message ?? "the pushed image does not fit the platform")), final: true };
      }
      if (platform.message?.startsWith("timed out")) {
        return { ...describeStatus({ phase: "timed-out", durationSeconds: durationOf(platform) }), final: true };
      }
      return {
        ...describeStatus({
          phase: "failed",
          step: platform.failedStep?.name ?? "build",
          exitCode: platform.failedStep?.exitCode,
          durationSeconds: durationOf(platform),
        }),
        final: true,
      };
    case "cancelled":
      return { ...describeStatus({ phase: "cancelled" }), final: true };
    case "error":
      return { state: "error", description: truncateDescription(capitalize(platform.message ?? "error")), final: true };
  }
}

/**
 * The status to send next, given what was reported before (undefined:
 * nothing yet). A platform's first status is always pending, with the
 * builder choice explained, even when the reconciler first sees it finished:
 * GitHub paces status writes to about one a second, so a quick platform of a
 * several-platform build can end before its turn, and a pull request should
 * still show pending, then the result.
 */
export function commitStatusToReport(platform: PlatformState, reported: string | undefined): CommitStatusWanted {
  const wanted = commitStatusFor(platform);
  return reported === undefined && wanted.final ? commitStatusFor({ ...platform, state: "queued" }) : wanted;
}

function durationOf(platform: PlatformState): number {
  const start = Date.parse(platform.startedAt ?? platform.createdAt ?? "");
  const end = Date.parse(platform.finishedAt ?? "");
  return Number.isFinite(start) && Number.isFinite(end) ? (end - start) / 1000 : 0;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

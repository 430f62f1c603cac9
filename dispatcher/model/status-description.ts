// Pure builders of commit status descriptions: what a developer sees next to
// the status context on a commit or pull request.

import type { Builder } from "../protocol/request-rules.js";

export type { Builder };

export type CommitState = "pending" | "success" | "failure" | "error";

/** GitHub refuses longer descriptions: "description is too long (maximum is 140 characters)". */
export const statusDescriptionLimit = 140;

export type BuildOutcome =
  | { phase: "queued"; builder: Builder }
  | { phase: "building"; builder: Builder; node?: string }
  | { phase: "succeeded"; digest?: string; durationSeconds: number }
  | { phase: "failed"; step: string; exitCode?: number; reason?: string; durationSeconds?: number }
  | { phase: "timed-out"; durationSeconds: number }
  | { phase: "cancelled" }
  | {
      phase: "unschedulable";
      os: "windows" | "linux";
      /** The node.kubernetes.io/windows-build value asked for, e.g. 10.0.26100. */
      windowsBuild?: string;
      /** The configured pool selector, e.g. { agentpool: "win1" }. */
      poolSelector: Record<string, string>;
    };

const builderName: Record<Builder, string> = { docker: "dockerd pool", buildkit: "BuildKit", "buildkit-windows": "BuildKit on the Windows pool" };
const buildingWhere: Record<Builder, string> = { docker: "on dockerd pool", buildkit: "with BuildKit", "buildkit-windows": "with BuildKit on the Windows pool" };

/**
 * The commit state and description for a build outcome. "error" is kept for
 * what the build itself did not cause (cancelled, no node to run on), so a red
 * "failure" always means the Dockerfile or its inputs need looking at.
 */
export function describeStatus(outcome: BuildOutcome): { state: CommitState; description: string } {
  switch (outcome.phase) {
    case "queued":
      return { state: "pending", description: `Waiting for ${builderName[outcome.builder]}…` };
    case "building": {
      const where = buildingWhere[outcome.builder];
      const node = outcome.node === undefined ? "" : ` (${outcome.node})`;
      return { state: "pending", description: `Building ${where}${node}…` };
    }
    case "succeeded": {
      const what = outcome.digest === undefined ? "" : ` ${shortImageDigest(outcome.digest)}`;
      return { state: "success", description: `Built${what} in ${formatDuration(outcome.durationSeconds)}` };
    }
    case "failed": {
      const cause = outcome.reason ?? (outcome.exitCode === undefined ? "error" : `exit code ${outcome.exitCode}`);
      const after = outcome.durationSeconds === undefined ? "" : ` after ${formatDuration(outcome.durationSeconds)}`;
      return { state: "failure", description: truncateDescription(`Failed: ${cause} in step ${outcome.step}${after}`) };
    }
    case "timed-out":
      return { state: "failure", description: `Timed out after ${formatDuration(outcome.durationSeconds)}` };
    case "cancelled":
      return { state: "error", description: "Cancelled" };
    case "unschedulable": {
      const wanted = outcome.os === "windows" && outcome.windowsBuild !== undefined ? `windows-build ${outcome.windowsBuild}` : `os ${outcome.os}`;
      const pool = Object.entries(outcome.poolSelector)
        .map(([key, value]) => `${key}=${value}`)
        .join(",");
      return { state: "error", description: truncateDescription(`No node matches ${wanted}${pool === "" ? "" : ` in pool ${pool}`}`) };
    }
  }
}

/** `sha256:` and 12 hex digits, enough to find the image in a registry UI. */
export function shortImageDigest(digest: string): string {
  const match = /^(sha256:[0-9a-f]{12})[0-9a-f]+$/.exec(digest);
  return match?.[1] === undefined ? digest : `${match[1]}…`;
}

/** 45s, 1m12s, 1h3m. */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return `${total}s`;
  if (total < 3600) return `${Math.floor(total / 60)}m${total % 60}s`;
  return `${Math.floor(total / 3600)}h${Math.floor((total % 3600) / 60)}m`;
}

/**
 * One line of at most {@link statusDescriptionLimit} characters, ending in an
 * ellipsis when cut. Counted in code points, as GitHub counts characters, and
 * never splitting a surrogate pair.
 */
export function truncateDescription(text: string, limit = statusDescriptionLimit): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  const characters = [...oneLine];
  if (characters.length <= limit) return oneLine;
  return `${characters.slice(0, limit - 1).join("").trimEnd()}…`;
}

// Where a multi-platform build's image index stands, derived from what the
// build recorded (read from its Jobs by controller/index-from-jobs.ts, or
// from the local executor's build record) and its platform states alone, and
// the `<prefix>/manifest` commit status that calls for. Pure.

import { shortImageDigest, truncateDescription } from "./status-description.js";
import { type CommitStatusWanted, isFinalCommitState } from "./commit-status.js";
import type { ManifestState as ManifestStateBody, PlatformState } from "../protocol/build-state.js";

/** The index as the API shows it (pending until pushed: see `ready`), and what the reconciler needs besides. */
export interface ManifestState extends ManifestStateBody {
  /** Every platform succeeded and was read from the registry; the index can be pushed. */
  ready?: boolean;
  /** A platform was cancelled: the index will never be pushed. */
  cancelled?: boolean;
}

/** What the reconciler records (annotation dockhand.dev/index) once it has pushed the index, or given up. */
export type IndexRecord = { digest: string; tags: string[] } | { error: string };

/** Recorded at plan time: the tags the index goes under, and every platform of the build. */
export interface IndexPlan {
  tags: string[];
  platforms: string[];
  statusContext: string;
}

export function manifestStateOf(plan: IndexPlan, record: IndexRecord | undefined, platforms: readonly PlatformState[]): ManifestState {
  const base = { tags: plan.tags, statusContext: plan.statusContext };
  if (record && "digest" in record) return { ...base, state: "succeeded", digest: record.digest };
  if (record) return { ...base, state: "error", message: record.error };

  const byPlatform = new Map(platforms.map((p) => [p.platform, p]));
  const waiting = plan.platforms.filter((name) => {
    const state = byPlatform.get(name)?.state;
    return state === undefined || state === "queued" || state === "running";
  });
  if (waiting.length > 0) {
    return { ...base, state: "pending", message: `waiting for ${waiting.length} of ${plan.platforms.length} platforms: ${waiting.join(", ")}` };
  }
  const unsuccessful = plan.platforms
    .map((name) => byPlatform.get(name)!)
    .filter((p) => p.state !== "succeeded")
    .map((p) => `${p.platform} ${p.state === "error" ? "errored" : p.state}`);
  const cancelled = plan.platforms.some((name) => byPlatform.get(name)!.state === "cancelled");
  if (unsuccessful.length > 0) return { ...base, state: "failed", message: `no index pushed: ${unsuccessful.join(", ")}`, ...(cancelled ? { cancelled } : {}) };
  return { ...base, state: "pending", ready: true, message: `pushing the index of ${plan.platforms.length} platforms` };
}

export function manifestCommitStatus(manifest: ManifestState): CommitStatusWanted {
  switch (manifest.state) {
    case "pending":
      return { state: "pending", description: truncateDescription(capitalize(manifest.message ?? "waiting for the platforms")), final: false };
    case "succeeded":
      return {
        state: "success",
        description: truncateDescription(
          `Index ${shortImageDigest(manifest.digest ?? "")} pushed under ${manifest.tags.length} tag${manifest.tags.length === 1 ? "" : "s"}`,
        ),
        final: true,
      };
    case "failed":
    case "error":
      return { state: "error", description: truncateDescription(capitalize(manifest.message ?? "no index pushed")), final: true };
  }
}

/** What an executor does next for a build's index: both executors decide it here. */
export type ManifestStep =
  | { kind: "none" }
  /** Report pending first, in the executor's own words (it knows the platforms). */
  | { kind: "announce" }
  /** Cancelled before its first status went out: record withheldStatus, send nothing. */
  | { kind: "withhold" }
  | { kind: "report"; wanted: CommitStatusWanted }
  | { kind: "push" };

/** What has been said so far about a build's index and its platforms. */
export interface ManifestReports {
  /** The index status last reported (undefined: none yet). */
  reported: string | undefined;
  /**
   * Whether any status of the index is out. Default: reported is set. The
   * reconciler also counts one recorded on another Job of the build, or sent
   * by this process and not in its cache yet.
   */
  announced?: boolean;
  /** Every platform's own final status is out. */
  platformsFinal: boolean;
}

/**
 * Level-triggered: from where the index stands and what was reported, the
 * one thing to do next. Pending goes out before anything else, even when
 * every platform is through before the first look (GitHub paces status
 * writes, so reporting can lag the builds); the index's final status is the
 * build's last word, after every platform's own; and a final state is never
 * followed by another.
 */
export function nextManifestStep(manifest: ManifestState, said: ManifestReports): ManifestStep {
  if (isFinalCommitState(said.reported)) return { kind: "none" };
  const wanted = manifestCommitStatus(manifest);
  const announced = said.announced ?? said.reported !== undefined;
  if (!announced && manifest.cancelled) return { kind: "withhold" };
  if (!announced && (manifest.ready || wanted.final)) return { kind: "announce" };
  if (manifest.ready) return { kind: "push" };
  if (said.reported === wanted.state) return { kind: "none" };
  if (wanted.final && !said.platformsFinal) return { kind: "none" };
  return { kind: "report", wanted };
}

/**
 * The pending an "announce" step reports, as things stand when it goes out:
 * what the index still waits for, that it is being pushed, or, when its
 * result is already known, that the result follows. Never "waiting" for
 * platforms that are done (GitHub paces writes, so the announcement can go
 * out after every platform's own result).
 */
export function manifestAnnouncement(manifest: ManifestState, platforms: readonly string[]): CommitStatusWanted {
  const message =
    manifest.state === "pending" && manifest.message !== undefined
      ? manifest.message
      : `the index of ${platforms.length} platforms: ${platforms.join(", ")}; its result follows`;
  return manifestCommitStatus({ ...manifest, state: "pending", message });
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// A build's phase from its platforms' and its index's: the same rule for
// both executors. Pure.

import type { ManifestState } from "./image-index-state.js";
import type { PlatformState } from "../protocol/build-state.js";
import type { PlatformPhase } from "../protocol/phases.js";

/** The build's phase: its platforms', and done only once its index is out; a failed index push fails it. */
export function buildPhase(platforms: readonly PlatformState[], manifest: ManifestState | undefined): PlatformPhase {
  const state = overallPhase(platforms.map((p) => p.state));
  if (manifest?.state === "pending" && state === "succeeded") return "running";
  if (manifest?.state === "error" && state === "succeeded") return "error";
  return state;
}

/** `ready` is the reconciler's cue, not something the API shows. */
export function withoutReady({ ready: _ready, ...manifest }: ManifestState): ManifestState {
  return manifest;
}

/** The build is as far as its least advanced platform, and failed if any failed. */
export function overallPhase(phases: PlatformPhase[]): PlatformPhase {
  if (phases.includes("running")) return "running";
  if (phases.includes("queued")) return "queued";
  for (const end of ["error", "failed", "cancelled"] as const) if (phases.includes(end)) return end;
  return "succeeded";
}

// Where a platform build, and a build as a whole, stands: the values of
// `state` in the build state (build-state.ts), and which of them are final.
// Plain values, no TypeBox: the Action's bundle imports this.

/** In the order a build goes through them; the last four are final. */
export const platformPhases = ["queued", "running", "succeeded", "failed", "cancelled", "error"] as const;
export type PlatformPhase = (typeof platformPhases)[number];

export const finalPhases: ReadonlySet<PlatformPhase> = new Set(["succeeded", "failed", "cancelled", "error"]);

/** True for a state nothing more happens to; false for queued, running, and any value this version does not know. */
export function isFinalPhase(phase: string): boolean {
  return finalPhases.has(phase as PlatformPhase);
}

// When reading a pushed image back from the registry has failed for good.
// Shared by the Kubernetes reconciler (image-index-step.ts) and the local
// executor, which read back the same way. Pure.

import { ImageReadError } from "./image-reader.js";
import { RegistryError } from "./registry-http.js";
import type { PlatformState } from "../protocol/build-state.js";

/**
 * How long after a platform's build finished a registry that keeps failing
 * (5xx, refused connections) is retried before the platform fails with the
 * last error: long enough to ride out a registry restart or a rollout, short
 * enough that a pull request is not left pending for good.
 */
export const readBackGiveUpMs = 10 * 60_000;

/**
 * Whether a failed read-back ends the platform, and with what message:
 * answers that will not change (no such manifest, refused) at once; anything
 * else (5xx, a refused connection) only after readBackGiveUpMs past the
 * platform's finish. undefined: retry.
 */
export function readBackFailure(err: unknown, platform: Pick<PlatformState, "pushRef" | "finishedAt">, now: number): string | undefined {
  const permanent = (err instanceof RegistryError && err.permanent) || err instanceof ImageReadError;
  const finishedAt = Date.parse(platform.finishedAt ?? "");
  const givenUp = Number.isFinite(finishedAt) && now - finishedAt > readBackGiveUpMs;
  if (!permanent && !givenUp) return undefined;
  const message = err instanceof Error ? err.message : String(err);
  return `could not read the pushed image ${platform.pushRef}${permanent ? "" : ` for ${readBackGiveUpMs / 60_000} min`}: ${message}`;
}

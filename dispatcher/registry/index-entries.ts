// The entries of a build's image index, from what each platform recorded when
// its image was read back: never from the per-platform tags, which a
// concurrent build may have moved. Shared by the Kubernetes reconciler and the
// local executor. Pure.

import { parsePlatform } from "../protocol/platforms.js";
import type { IndexEntry } from "./image-index.js";
import type { ImagePlatformRecord } from "../model/image-platform.js";

export interface ReadBackPlatform {
  /** The platform as requested (`windows/amd64:ltsc2022`). */
  readonly platform: string;
  /** What names it in an error (the Job, or the local build's platform). */
  readonly name: string;
  readonly record: ImagePlatformRecord | undefined;
}

/**
 * One entry per platform, in platform order, so the same build always yields
 * the same index bytes; each followed by its attestation manifests, as
 * BuildKit's attestation storage lays them out (platform unknown/unknown,
 * `vnd.docker.reference.digest` naming the image): a platform's provenance
 * and SBOM stay reachable from the build's tag.
 */
export function indexEntries(platforms: readonly ReadBackPlatform[]): IndexEntry[] {
  return [...platforms]
    .sort((a, b) => a.platform.localeCompare(b.platform))
    .flatMap(({ platform, name, record }) => {
      if (!record) throw new Error(`${name}: succeeded without an image record`);
      const image: IndexEntry = { mediaType: record.mediaType, digest: record.digest, size: record.size, platform: entryPlatform(platform, record) };
      const attestations = (record.attestations ?? []).map((attestation): IndexEntry => ({
        ...attestation,
        platform: { os: "unknown", architecture: "unknown" },
        annotations: { "vnd.docker.reference.digest": record.digest, "vnd.docker.reference.type": "attestation-manifest" },
      }));
      return [image, ...attestations];
    });
}

/**
 * The index entry's platform: the image config's when it is of the OS asked
 * for (its full os.version, as `docker manifest annotate` would write);
 * otherwise — validatePlatform off and a mismatch the user accepted — the
 * platform asked for, with the Windows build number.
 */
export function entryPlatform(requestedPlatform: string, record: ImagePlatformRecord): IndexEntry["platform"] {
  const requested = parsePlatform(requestedPlatform);
  if (record.os === requested.os && record.architecture === requested.arch) {
    return { os: record.os, architecture: record.architecture, ...(record["os.version"] ? { "os.version": record["os.version"] } : {}) };
  }
  return {
    os: requested.os,
    architecture: requested.arch,
    ...(requested.os === "windows" ? { "os.version": requested.windowsBuild } : {}),
  };
}

export { apiRepository } from "../protocol/image-reference.js";

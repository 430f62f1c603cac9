// The two registry round trips that finish a pushed build, whichever executor
// ran it: read a platform's pushed image back (and check it against the
// platform asked for), and push the image index under each requested tag.
// What is done with the answers — annotations on Jobs, or the local build
// record — stays with the caller.

import { parseImageReference, registryHost } from "../protocol/image-reference.js";
import { imageIndex } from "./image-index.js";
import type { ImageReader } from "./image-reader.js";
import { pushIndex } from "./index-push.js";
import { checkImagePlatform } from "./platform-check.js";
import { RegistryError, type RegistryHttp } from "./registry-http.js";
import type { ImagePlatformRecord } from "../model/image-platform.js";
import type { IndexRecord } from "../model/image-index-state.js";
import { apiRepository, indexEntries, type ReadBackPlatform } from "./index-entries.js";

export interface ReadBack {
  /** The digest read: the build's own, or what the platform's tag points at when the build reported none. */
  readonly digest: string;
  /** The image's platform and manifest descriptor, when it fits (or is not checked). */
  readonly record?: ImagePlatformRecord;
  /** Why it does not fit the platform asked for (validatePlatform). */
  readonly mismatch?: string;
}

/**
 * Reads what one platform pushed, by digest when the build reported one.
 * Throws what the registry answered; readBackFailure() tells a permanent
 * answer from one worth retrying.
 */
export async function readPushedImage(
  reader: ImageReader,
  platform: { readonly platform: string; readonly pushRef: string; readonly digest?: string },
  validate: boolean,
): Promise<ReadBack> {
  const parsed = parseImageReference(platform.pushRef);
  if (!parsed.ok) throw new Error(`push ref ${platform.pushRef} does not parse: ${parsed.problem}`);
  const host = registryHost(parsed.reference);
  const repository = apiRepository(parsed.reference);
  // Failing the build's digest (a push log that lost its line), what the platform's own tag points at now.
  const digest = platform.digest ?? (await reader.manifest(host, repository, parsed.reference.tag ?? "latest")).descriptor.digest;
  const image = await reader.pushedImage(host, repository, digest);
  const check = validate ? checkImagePlatform(platform.platform, image.platform) : ({ ok: true } as const);
  const attestations = image.attestations === undefined ? {} : { attestations: image.attestations.map((a) => ({ ...a })) };
  return check.ok ? { digest, record: { ...image.platform, ...image.manifest, ...attestations } } : { digest, mismatch: check.message };
}

/**
 * Pushes one index of `platforms` under every tag. A refusal that asking
 * again will not change (4xx) is the result, {error}; anything else throws
 * for the caller to retry.
 */
export async function pushImageIndex(http: RegistryHttp, tags: readonly string[], platforms: readonly ReadBackPlatform[]): Promise<IndexRecord> {
  const index = imageIndex(indexEntries(platforms));
  try {
    for (const tag of tags) {
      const parsed = parseImageReference(tag);
      if (!parsed.ok) throw new Error(`tag ${tag} does not parse: ${parsed.problem}`);
      await pushIndex(http, registryHost(parsed.reference), apiRepository(parsed.reference), parsed.reference.tag ?? "latest", index);
    }
  } catch (err) {
    if (err instanceof RegistryError && err.permanent) return { error: `no index pushed: ${err.message}` };
    throw err;
  }
  return { digest: index.digest, tags: [...tags] };
}

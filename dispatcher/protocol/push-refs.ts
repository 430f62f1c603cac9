import type { ImageReference } from "./image-reference.js";
import { formatImageReference } from "./image-reference.js";
import type { PlatformSlug } from "./platforms.js";

// What each platform's Job pushes.
//
// Single-platform build: the requested tags themselves.
//
// Multi-platform build: every platform pushes, for each requested tag,
// `<repository>:<tag>-<slug>` (e.g. `ghcr.io/o/app:1.0-win-ltsc2022`), and a
// later manifest-list step joins those into `<repository>:<tag>`. Why this
// scheme and not one `dockhand-<buildId>-<slug>` tag:
// - an image index can only reference manifests in its own repository, so each
//   repository named in `tags` needs its own per-platform manifests;
// - the tags mean something to people: Windows hosts under process isolation
//   can only run their own version, and teams pin `…:1.0-win-ltsc2022` directly;
// - the join uses the digests each platform reported, not these tags, so two
//   concurrent builds overwriting `latest-linux-amd64` cannot mix up an index.

/** Longest tag the registry grammar allows (distribution/reference). */
export const maxTagLength = 128;

export function perPlatformTag(tag: string, slug: PlatformSlug): string {
  return `${tag}-${slug}`;
}

/** References (with tags) one platform pushes, in the order of the requested tags. */
export function pushRefsFor(tags: readonly ImageReference[], slug: PlatformSlug, multiPlatform: boolean): string[] {
  return tags.map((reference) => {
    const tag = reference.tag ?? "latest";
    return formatImageReference({
      ...reference,
      tag: multiPlatform ? perPlatformTag(tag, slug) : tag,
      digest: undefined,
    });
  });
}

// The step's outputs, from the build's final state. Pure.

import { parseImageReference, type ImageReference } from "../dispatcher/protocol/image-reference.js";
import { parsePlatform } from "../dispatcher/protocol/platforms.js";
import { pushRefsFor } from "../dispatcher/protocol/push-refs.js";
import type { BuildStateBody } from "../dispatcher/protocol/build-state.js";

export interface StepOutputs {
  "build-id": string;
  /** The image's digest: the image index's for a multi-platform push, else the single platform's. */
  digest: string;
  /** JSON: {"windows/amd64:ltsc2022": "sha256:…", …} */
  digests: string;
  /** JSON: {"windows/amd64:ltsc2022": ["ghcr.io/o/app:1.0-win-ltsc2022@sha256:…"], …} */
  images: string;
  /** JSON: the build as the dispatcher reports it, per platform. */
  metadata: string;
}

/**
 * What each platform pushed, named by tag and pinned by digest (what
 * dispatcher/protocol/push-refs.ts pushes). A platform with no digest pushed
 * nothing the registry serves (it failed, or was cancelled, before its push):
 * it lists none, rather than tags that answer 404 or hold an older image.
 */
export function imagesByPlatform(build: BuildStateBody, tags: readonly string[], push: boolean): Record<string, string[]> {
  const references = tags.flatMap((tag) => {
    const parsed = parseImageReference(tag);
    return parsed.ok ? [parsed.reference as ImageReference] : [];
  });
  const multiPlatform = build.platforms.length > 1;
  const images: Record<string, string[]> = {};
  for (const platform of build.platforms) {
    const digest = platform.digest;
    if (!push || digest === undefined) {
      images[platform.platform] = [];
      continue;
    }
    const slug = parsePlatform(platform.platform).slug;
    images[platform.platform] = pushRefsFor(references, slug, multiPlatform).map((ref) => `${ref}@${digest}`);
  }
  return images;
}

export function stepOutputs(build: BuildStateBody, tags: readonly string[], push: boolean): StepOutputs {
  const digests = Object.fromEntries(build.platforms.filter((p) => p.digest).map((p) => [p.platform, p.digest as string]));
  const images = imagesByPlatform(build, tags, push);
  const digest = build.manifest?.digest ?? (build.platforms.length === 1 ? (build.platforms[0]?.digest ?? "") : "");
  const metadata = {
    buildId: build.id,
    state: build.state,
    url: build.url,
    logsUrl: build.logsUrl,
    targetUrl: build.targetUrl,
    repository: build.repository,
    sha: build.sha,
    ref: build.ref,
    ...(digest ? { digest } : {}),
    ...(build.manifest ? { manifest: build.manifest } : {}),
    platforms: build.platforms.map((p) => ({
      platform: p.platform,
      state: p.state,
      builder: p.builder,
      builderReason: p.builderReason,
      node: p.node,
      digest: p.digest,
      images: images[p.platform],
      statusContext: p.statusContext,
      message: p.message,
      failedStep: p.failedStep,
      createdAt: p.createdAt,
      startedAt: p.startedAt,
      finishedAt: p.finishedAt,
    })),
  };
  return {
    "build-id": build.id,
    digest,
    digests: JSON.stringify(digests),
    images: JSON.stringify(images),
    metadata: JSON.stringify(metadata),
  };
}

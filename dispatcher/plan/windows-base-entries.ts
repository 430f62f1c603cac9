// A Windows base image that is an index over several Windows versions (the
// .NET and PowerShell images are) must give each platform its own version's
// entry. Asked for plain windows/amd64, BuildKit takes the index's first
// windows/amd64 entry for every version; asked for windows(<build>)/amd64 it
// writes that os.version into the config whatever base it used (so the
// read-back check can no longer tell), and on a Linux worker it gives a
// 10.0.26100 platform the 10.0.20348 entry (moby/buildkit#5614, tried on the
// bed). So dockhand reads such a base's index itself and pins each platform's
// FROM to its entry by digest with a BuildKit named context
// (--opt context:<image>=docker-image://<repository>@<digest>): the build
// then uses exactly that image and its config keeps the true os.version.
// Pure: the executor reads the indexes (windows-base-resolution in kube/).

import { RequestError } from "../protocol/errors.js";
import type { BuildPlan, PlatformPlan } from "./build-plan.js";
import { parseImageReference } from "../protocol/image-reference.js";

/** One entry of a base image's index, as read from its registry. */
export interface IndexEntry {
  readonly digest: string;
  readonly os?: string;
  readonly architecture?: string;
  readonly osVersion?: string;
}

/**
 * The entry of `entries` a Windows platform of build `windowsBuild` must use,
 * or undefined when the index holds no Windows versions to choose between.
 * Throws a 422 when it holds Windows versions but not this one.
 */
export function pickWindowsEntry(image: string, entries: readonly IndexEntry[], windowsBuild: string, field: string): IndexEntry | undefined {
  const windows = entries.filter((e) => e.os === "windows" && e.architecture === "amd64" && e.osVersion !== undefined);
  if (windows.length === 0) return undefined;
  const match = windows.find((e) => e.osVersion === windowsBuild || e.osVersion!.startsWith(`${windowsBuild}.`));
  if (match) return match;
  throw new RequestError(
    {
      error: `${field}: the base image ${image} has no entry for Windows ${windowsBuild} (it has ${windows.map((e) => e.osVersion).join(", ")})`,
      field,
      hint: "build the Windows versions the base image offers, or use a base that has this one",
    },
    422,
  );
}

/** The reference of an image's entry by digest: `repository@sha256:…` without the tag. */
export function entryReference(image: string, digest: string): string {
  const parsed = parseImageReference(image);
  if (!parsed.ok) return image;
  const { domain, path } = parsed.reference;
  return `${domain === undefined ? "" : `${domain}/`}${path}@${digest}`;
}

/**
 * The key BuildKit's Dockerfile frontend looks a FROM image up by among the
 * named contexts: the reference in its familiar form (Docker Hub without
 * docker.io/library/) with a trailing ":latest" dropped (dockerui's
 * NamedContext). Any other spelling is silently ignored.
 */
export function namedContextKey(image: string): string {
  const parsed = parseImageReference(image);
  if (!parsed.ok) return image;
  const { domain, path, tag, digest } = parsed.reference;
  const dockerHub = domain === undefined || domain === "docker.io" || domain === "index.docker.io";
  const name = dockerHub ? path.replace(/^library\/(?=[^/]+$)/, "") : `${domain}/${path}`;
  const familiar = `${name}${tag === undefined ? "" : `:${tag}`}${digest === undefined ? "" : `@${digest}`}`;
  return familiar.endsWith(":latest") ? familiar.slice(0, -":latest".length) : familiar;
}

/** The plan with each platform's Windows base images pinned: image → entry reference, by platform slug. */
export function withPinnedBases(plan: BuildPlan, pins: ReadonlyMap<string, Readonly<Record<string, string>>>): BuildPlan {
  return {
    ...plan,
    platforms: plan.platforms.map((p): PlatformPlan => {
      const pinned = pins.get(p.platform.slug);
      return pinned && Object.keys(pinned).length > 0 ? { ...p, pinnedBases: pinned } : p;
    }),
  };
}

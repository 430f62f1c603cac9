// Reads the indexes of a plan's Windows base images and pins each BuildKit
// Windows platform to its version's entry (plan/windows-base-entries.ts says
// why). A base that cannot be read (a private registry without credentials,
// a registry that is down) is left to BuildKit as before, with a warning: the
// read-back check still catches a wrong entry then.

import type { BuildPlan } from "../plan/build-plan.js";
import { apiRepository, parseImageReference, registryHost } from "../protocol/image-reference.js";
import { entryReference, type IndexEntry, pickWindowsEntry, withPinnedBases } from "../plan/windows-base-entries.js";
import type { FieldLogger } from "../logging.js";
import type { ImageReader } from "./image-reader.js";

const lookupTimeoutMs = 5_000;

export async function pinWindowsBases(plan: BuildPlan, reader: ImageReader, log: FieldLogger): Promise<BuildPlan> {
  const indexes = new Map<string, Promise<readonly IndexEntry[] | undefined>>();
  const pins = new Map<string, Record<string, string>>();
  for (const [index, platformPlan] of plan.platforms.entries()) {
    const platform = platformPlan.platform;
    if (platform.os !== "windows" || !platformPlan.windowsBaseImages?.length) continue;
    const pinned: Record<string, string> = {};
    for (const image of platformPlan.windowsBaseImages) {
      if (!indexes.has(image)) indexes.set(image, indexEntries(reader, image, log));
      const entries = await indexes.get(image)!;
      if (!entries) continue;
      const entry = pickWindowsEntry(image, entries, platform.windowsBuild, `platforms[${index}]`);
      if (entry) pinned[image] = entryReference(image, entry.digest);
    }
    pins.set(platform.slug, pinned);
  }
  return withPinnedBases(plan, pins);
}

async function indexEntries(reader: ImageReader, image: string, log: FieldLogger): Promise<readonly IndexEntry[] | undefined> {
  const parsed = parseImageReference(image);
  if (!parsed.ok) return undefined;
  const reference = parsed.reference;
  try {
    // The build request waits for this: a registry that is slow to answer
    // leaves the base to BuildKit rather than holding the request for the
    // registry client's own 30 s.
    const read = reader.manifest(registryHost(reference), apiRepository(reference), reference.digest ?? reference.tag ?? "latest");
    read.catch(() => undefined);
    const { body } = await Promise.race([
      read,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${lookupTimeoutMs / 1000} s`)), lookupTimeoutMs).unref()),
    ]);
    return body.manifests?.map((m) => ({
      digest: m.digest ?? "",
      os: m.platform?.os,
      architecture: m.platform?.architecture,
      osVersion: m.platform?.["os.version"],
    }));
  } catch (err) {
    log.warn({ image, err: String((err as Error)?.message ?? err) }, "could not read the Windows base image's index; BuildKit resolves it");
    return undefined;
  }
}
